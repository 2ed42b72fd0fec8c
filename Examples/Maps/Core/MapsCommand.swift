import ArgumentParser
import Foundation

/// `maps`: synthesize → prepare → train → translate → evaluate → export, and a one-command demo.
public struct MapsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "maps",
        abstract: "Satellite → map translation with pix2pix (Isola et al.), end to end.",
        discussion: """
            With no arguments, runs the demo: synthesizes a small maps dataset, trains a small \
            pix2pix on it, evaluates it and writes an HTML report (about 3 minutes on 2 cores).
            The real maps dataset works too: point --data at its folder (train/ and val/ of \
            1200×600 JPEGs, satellite left, map right) or at an NPZ made by `maps prepare`.
            """,
        subcommands: [
            Demo.self, Synthesize.self, Prepare.self, Train.self, Translate.self, Evaluate.self, Export.self,
            CycleGANCommand.self,
        ],
        defaultSubcommand: Demo.self
    )

    public init() {}
}

/// A user-facing failure: printed as one line, exit code 1.
public struct MapsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Prints to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
}

/// Whether standard output is a terminal (progress bars redraw in place only then).
var standardOutputIsTerminal: Bool { isatty(STDOUT_FILENO) != 0 }

/// Prints and flushes (progress lines must appear while training runs).
func say(_ message: String, terminator: String = "\n") {
    print(message, terminator: terminator)
    fflush(stdout)
}
