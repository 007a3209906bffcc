# The browser that opens EVIDENCE.html in a test (evidence/browser): Debian's headless-capable
# Chromium, and the Liberation fonts the charts are laid out with. Included from the root
# Makefile; `make test` installs it before the unit tests, which fail (never skip) without it.

CHROMIUM ?= chromium

.PHONY: tools-chromium

tools-chromium:
	@command -v $(CHROMIUM) >/dev/null && [ -e /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium fonts-liberation)
	@$(CHROMIUM) --version
