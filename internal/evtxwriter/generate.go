package evtxwriter

// Regenerate every fixture in testdata/evtx from testdata/scenarios.
//go:generate go run ./evtxgen -o ../../testdata/evtx ../../testdata/scenarios
