# Wrappers a new user runs: `make run` (main job on the bundled tiny model) and `make test`.
JOBS ?= $(shell nproc)
.PHONY: bootstrap build debug run test bench clean
bootstrap:
	@scripts/bootstrap
build: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)
debug: bootstrap
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)
MODEL ?= models/tiny-gpt2
PROMPT ?= To be, or not to be
run: build
	build/release/veil generate --model $(MODEL) --prompt "$(PROMPT)" --max-new-tokens 8
test: build
	ctest --preset release -j $(JOBS)
bench: build
	build/release/veil bench ops
clean:
	rm -rf build
