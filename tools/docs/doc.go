// Package docs holds the tests that keep the repository's Markdown usable from a clone: README.md
// short, README.md and docs/*.md within 120 characters a line with no skipped heading level, and
// every relative link in the repository's Markdown pointing at a file that exists in it.
package docs
