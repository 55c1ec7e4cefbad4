import ArgumentParser

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure speed and memory (build with -c release for figures worth quoting).",
    subcommands: [BenchInferCommand.self, BenchExtractCommand.self, BenchTrainCommand.self]
  )
}
