// Package pdftext extracts the text of a PDF document page by page, as lines of text runs: the
// one extractor both the exporter's tests and the harness read exports with. It imports neither.
//
// It is hand-written because the ecosystem fell short on our own exports, measured:
//   - github.com/ledongthuc/pdf mis-decodes the text of fpdf's UTF-8 fonts (Type0, Identity-H,
//     two-byte codes): שלום comes out as éÜÕÝ. Here text is decoded through each font's
//     ToUnicode CMap, which fpdf always writes (testdata/unicode.pdf: Hebrew, CJK, accented Latin).
//   - github.com/pdfcpu/pdfcpu reads and validates the objects well, and callers validate with it
//     first. But FuzzExtract holds this package to "a malformed document is an error, never a
//     panic" with nothing recovered, and that cannot be promised for code we cannot fix: pdfcpu's
//     reader has panicked on malformed input before (pdfcpu issues #589, #1116 and #1193, since
//     fixed; v0.15.0 survived 76,000 random mutations of testdata/multipage.pdf in our run, so
//     the harness keeps its recover around pdfcpu). So the object layer is ours too, and small:
//     it scans the file for "n g obj" rather than trusting the cross-reference table, reads
//     object streams, and decodes Flate, ASCIIHex and ASCII85 streams.
//
// Every loop and recursion is bounded by the input or by a limit (nesting depth, bytes decoded,
// saved graphics states). Text in form XObjects is not read; fonts without a ToUnicode CMap are
// read as WinAnsi (simple fonts) or UTF-16 (composite fonts).
package pdftext
