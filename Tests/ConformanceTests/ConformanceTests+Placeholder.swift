// Package.swift declares the ConformanceTests target, whose suite is written on
// the `conformance` branch; this file only lets the package load until it lands.
// Delete it once Tests/ConformanceTests has real tests.
