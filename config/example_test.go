package config_test

import (
	"fmt"

	"github.com/switchboard-sip/switchboard/config"
)

func ExampleParse() {
	_, err := config.Parse("switchboard.yaml", []byte(`
listen:
  udp: [0.0.0.0:5060]
registar:
  min_expires: 30
log:
  level: verbose
`))
	fmt.Println(err)
	// Output:
	// switchboard.yaml:4: registar: unknown field; did you mean registrar?
	// switchboard.yaml:7: log.level: "verbose" is not a log level; use debug, info, warn or error
}

func ExampleConfig_RestartNeeded() {
	running := config.Default()
	next := config.Default()
	next.Registrar.MaxExpires = 3600
	next.Listen.TCP = append(next.Listen.TCP, "[::1]:5060")
	fmt.Println(running.RestartNeeded(next))
	// Output:
	// [listen.tcp]
}
