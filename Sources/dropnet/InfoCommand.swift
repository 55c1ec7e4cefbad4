import ArgumentParser
import DropnetEngine
import DropnetModel
import Foundation

struct InfoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Show what dropnet runs on: CPU, oneDNN's instruction set, threads, weights.",
    discussion: """
      The instruction set is the one oneDNN's kernels use on this CPU; it decides which \
      kernels run, so quote it with any speed figure or a test failure from another machine.
      """
  )

  func run() throws {
    let weights = WeightsLocation.imagenet
    let weightsState =
      FileManager.default.fileExists(atPath: weights.path)
      ? "" : " (missing: run `dropnet weights import FILE.pb`)"
    let rows: [(String, String)] = [
      ("dropnet", DropnetVersion.string),
      ("cpu", Self.cpuDescription),
      ("cores", "\(CPUEngine.onlineProcessorCount)"),
      ("onednn", CPUEngine.libraryVersion),
      ("isa", CPUEngine.instructionSet),
      (
        "bfloat16",
        CPUEngine.hasNativeBFloat16
          ? String(
            format: "native, convolutions %.2fx float32's speed: auto trains in %@",
            Precision.bfloat16Speedup, Precision.automatic.rawValue)
          : "not native: auto trains in float32"
      ),
      ("weights", weights.path + weightsState),
    ]
    for (key, value) in rows {
      print(key.padding(toLength: 10, withPad: " ", startingAt: 0) + value)
    }
  }

  /// The first processor of /proc/cpuinfo: "model name (vendor, family F model M)".
  static var cpuDescription: String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
      return "unknown"
    }
    func field(_ name: String) -> String {
      text.split(separator: "\n")
        .first { $0.split(separator: ":").first?.trimmingCharacters(in: .whitespaces) == name }
        .flatMap { $0.split(separator: ":", maxSplits: 1).last }
        .map { $0.trimmingCharacters(in: .whitespaces) } ?? "?"
    }
    return "\(field("model name")) (\(field("vendor_id")), family \(field("cpu family")) model "
      + "\(field("model")))"
  }
}
