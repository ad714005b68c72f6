// The HitlTests target is declared in Package.swift, and SwiftPM refuses to
// build a package whose target has no folder. The hitl CLI's own tests belong
// here; this file only keeps `swift build --build-tests` working until they exist.
import Testing
