# The commands README.md gives. `make test` is the project's test command;
# .ci/run installs staticcheck and runs it.

# How long each fuzz target runs in `make test` (a go duration; 0 skips
# fuzzing): make test FUZZTIME=5s
FUZZTIME ?= 30s

# Arguments for the switchboard binary: make run ARGS='parse msg.sip'.
# Today the binary has only `version` and `parse`; once the server lands
# (issue 3 on), running it without arguments serves on the embedded
# defaults, and ARGS should default to empty.
ARGS ?= version

.PHONY: test run

test:
	FUZZTIME='$(FUZZTIME)' ./scripts/test

run:
	go run ./cmd/switchboard $(ARGS)
