// Package browser holds the test that opens an evidence bundle's EVIDENCE.html in a real browser:
// headless Chromium (Debian's chromium package), driven over the DevTools protocol by chromedp.
// It checks what a reader gets, which the golden tests of package evidence cannot: that the page
// loads without a console error, that it fetches nothing (the file:// document is its only
// request), that every check of the run is on it, and that it draws something.
//
// The test fails, never skips, when Chromium is missing: `make tools-chromium` installs it (make
// test does so first). For a hand run on a machine without it, EXPORTATSCALE_SKIP_MISSING=1 skips
// the test and says so; EVIDENCE_CHROMIUM names the browser binary when it is not on PATH.
package browser
