// Package layering holds no code, only a test: it keeps the direction of
// imports that the layering table of DESIGN.md ("Layers and the direction of
// imports") sets out.
//
// The test lists every package of the module with `go list -deps -test -json`
// and checks each import of a project package against that table, written out
// as data in layering_test.go. A new package fails the test until it is given
// a row there; a new layer is agreed in DESIGN.md first.
package layering
