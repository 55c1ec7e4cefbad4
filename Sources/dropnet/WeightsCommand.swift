import ArgumentParser
import DropnetModel
import Foundation

struct WeightsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "weights",
    abstract: "Manage the pretrained ImageNet weights.",
    subcommands: [WeightsImportCommand.self]
  )
}

struct WeightsImportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Import a TensorFlow frozen MobileNet v1 GraphDef (.pb) as a dropnet checkpoint.",
    discussion: """
      Reads the TF-slim MobileNet v1 1.0/224 weights (e.g. mobilenet_v1_1.0_224_frozen.pb, or \
      the graph examples/fetch-weights.sh downloads), checks every tensor is present with its \
      expected shape, and writes a safetensors checkpoint with dropnet's metadata. By default \
      it goes to the well-known location `--model imagenet` reads: \
      \(WeightsLocation.imagenet.path) \
      (set DROPNET_WEIGHTS to use another file).
      """
  )

  @Argument(help: "The frozen GraphDef (.pb) file.")
  var graph: String

  @Option(name: .long, help: "Where to write the checkpoint (.safetensors).")
  var out: String?

  func run() throws {
    let destination = out.map { URL(fileURLWithPath: $0) } ?? WeightsLocation.imagenet
    do {
      let checkpoint = try WeightsImporter.importGraph(at: URL(fileURLWithPath: graph))
      try FileManager.default.createDirectory(
        at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
      try checkpoint.write(to: destination)
      let parameters = checkpoint.tensors.values.reduce(0) { $0 + $1.values.count }
      print(
        "imported \(checkpoint.tensors.count) tensors (\(parameters) parameters) from \(graph)"
          + " -> \(destination.path)")
    } catch let error as ModelError {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(2)
    }
  }
}

/// Where dropnet keeps the imported ImageNet weights.
enum WeightsLocation {
  /// `$DROPNET_WEIGHTS`, else `$XDG_DATA_HOME/dropnet/mobilenet_v1_imagenet.safetensors`
  /// (XDG_DATA_HOME defaults to ~/.local/share).
  static var imagenet: URL {
    let environment = ProcessInfo.processInfo.environment
    if let path = environment["DROPNET_WEIGHTS"], !path.isEmpty {
      return URL(fileURLWithPath: path)
    }
    let data =
      environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
      ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share")
    return data.appendingPathComponent("dropnet/mobilenet_v1_imagenet.safetensors")
  }
}
