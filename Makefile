# The commands README.md gives. `make test` is the project's test command;
# .ci/run installs staticcheck and runs it.

# How long each fuzz target runs in `make test` (a go duration; 0 skips
# fuzzing): make test FUZZTIME=5s
FUZZTIME ?= 30s

# Arguments for the switchboard binary: make run ARGS='parse msg.sip'.
# By default the server runs on its embedded defaults.
ARGS ?= serve

.PHONY: test run

test:
	FUZZTIME='$(FUZZTIME)' ./scripts/test

run:
	go run ./cmd/switchboard $(ARGS)
