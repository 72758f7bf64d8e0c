# berth: the two commands of the README, and the developer's helpers.
#   make        release build into build/
#   make test   install what is missing, build, run every test (ASan+UBSan)
#   make demo   install, build, start berth with a sample app
JOBS    ?= $(shell nproc)
BUILD   ?= build
ASAN    ?= build-asan
FUZZDIR ?= build-fuzz
PYTEST  ?= /usr/bin/python3 -m pytest
FUZZ_SECONDS ?= 60

.PHONY: all deps build asan test unit system browser fuzz format lint demo clean

all: build

deps:
	@scripts/install-deps.sh

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON >/dev/null
	cmake --build $(ASAN) -j $(JOBS)

# Unit tests run under ASan+UBSan; system tests drive the sanitized binaries too.
test: deps build asan
	cd $(ASAN) && ctest --output-on-failure -j $(JOBS)
	scripts/run-system-tests.sh $(ASAN)
	scripts/run-browser-tests.sh $(ASAN)

unit: asan
	cd $(ASAN) && ctest --output-on-failure -j $(JOBS)

system: asan
	scripts/run-system-tests.sh $(ASAN)

browser: deps asan
	scripts/run-browser-tests.sh $(ASAN)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZDIR) -DCMAKE_BUILD_TYPE=Debug -DBERTH_FUZZ=ON \
		-DBERTH_SANITIZE=ON -DBERTH_TESTS=OFF >/dev/null
	cmake --build $(FUZZDIR) -j $(JOBS)
	scripts/run-fuzz.sh $(FUZZDIR) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')
	scripts/check-layers.sh
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--inline-suppr --suppress=unknownMacro --std=c11 -I src $$(git ls-files 'src/*.c')

demo: deps build
	scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZDIR)
