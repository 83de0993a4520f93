module github.com/switchboard-sip/switchboard

go 1.26
