# The front proxy the harness is proven behind (harness/proxytest): Debian's nginx, which before
# 1.27.2 drops HTTP trailers, so A1 must say so rather than blame the exporter. Included from the
# root Makefile; `make unit` installs it first, and those tests fail (never skip) without it. The
# package's service is not needed: the tests start nginx themselves on loopback. (nginx lives in
# /usr/sbin, which a user's PATH may lack; the tests look there too.)

NGINX ?= nginx

.PHONY: tools-nginx

tools-nginx:
	@command -v $(NGINX) >/dev/null || [ -x /usr/sbin/nginx ] || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends nginx)
	@$$(command -v $(NGINX) || echo /usr/sbin/nginx) -v
