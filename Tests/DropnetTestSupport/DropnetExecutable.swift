import Foundation

/// The `dropnet` executable built beside the test bundle, and the real ImageNet weights
/// imported with it once per test process (the CLI and daemon tests both need them).
public enum DropnetExecutable {
  /// Where `swift build` put the executable.
  public static func url() throws -> URL {
    let candidates = [
      Bundle.main.bundleURL.deletingLastPathComponent(),
      Bundle.main.bundleURL,
      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
    ].map { $0.appendingPathComponent("dropnet") }
    guard
      let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) })
    else {
      throw TestFiles.Missing(
        "the dropnet executable is not built beside the tests; run `swift build` first")
    }
    return found
  }

  /// Runs dropnet to its end; stdout and stderr together.
  public static func run(_ arguments: [String]) throws -> ChildProcess.Result {
    try ChildProcess.run(url(), arguments)
  }

  private static let imported = Result { try importImageNetWeights() }

  /// examples/weights/mobilenet_v1_imagenet.pb imported by `dropnet weights import`, once.
  public static func imageNetWeights() throws -> URL { try imported.get() }

  private static func importImageNetWeights() throws -> URL {
    let graph = TestFiles.packageRoot.appendingPathComponent(
      "examples/weights/mobilenet_v1_imagenet.pb")
    guard FileManager.default.fileExists(atPath: graph.path) else {
      throw TestFiles.Missing(
        "missing \(graph.path): run examples/fetch-weights.sh (Tests/run-tests.sh does)")
    }
    let out = try TestFiles.temporaryFolder().appendingPathComponent("imagenet.safetensors")
    let result = try run(["weights", "import", graph.path, "--out", out.path])
    guard result.status == 0, result.output.contains("imported 137 tensors") else {
      throw TestFiles.Missing("weights import failed: \(result.output)")
    }
    return out
  }
}
