import DropnetDaemon
import DropnetTestSupport
import Foundation
import XCTest

/// `dropnet serve --once`: the daemon's own path over a drop folder, then exit; and its log
/// lines on stderr where no journald runs.
final class ServeOnceTests: XCTestCase {
  /// A drop folder with `movies` (example names), and the serve arguments for it.
  private func layout(_ movies: [String]) throws -> (root: URL, arguments: [String]) {
    let root = try TestFiles.temporaryFolder("once")
    let drop = root.appendingPathComponent("drop")
    try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
    for name in movies {
      try FileManager.default.copyItem(
        at: try ServiceHarness.example("drop/\(name)"), to: drop.appendingPathComponent(name))
    }
    return (
      root,
      [
        "serve", "--once", "--drop", drop.path, "--state",
        root.appendingPathComponent("state").path,
        "--output", root.appendingPathComponent("models").path, "--weights",
        try DropnetExecutable.imageNetWeights().path, "--max-frames", "24",
        "--max-frames-per-class", "16", "--min-frames-per-class", "5", "--fast-epochs", "3",
        "--two-speed", "false", "--threads", "2",
      ]
    )
  }

  func testOncePublishesAModelAndExits() throws {
    let (root, arguments) = try layout(["fish.mov", "windmill.mov"])
    // Held-out photos in the drop folder's .heldout, never taken for movies.
    for label in ["fish", "windmill"] {
      let destination = root.appendingPathComponent("drop/.heldout/\(label)")
      try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
      let source = try ServiceHarness.example("heldout/\(label)")
      for photo in try FileManager.default.contentsOfDirectory(atPath: source.path) {
        try FileManager.default.copyItem(
          at: source.appendingPathComponent(photo), to: destination.appendingPathComponent(photo))
      }
    }
    let result = try DropnetExecutable.run(arguments)
    XCTAssertEqual(result.status, 0, result.output)
    let summary = root.appendingPathComponent("models/DropnetClassifier.json")
    let json = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: summary)) as? [String: Any])
    XCTAssertEqual(json["classLabels"] as? [String], ["fish", "windmill"])
    let published = try XCTUnwrap(
      DaemonStatus.load(from: root.appendingPathComponent("state"))?.published)
    XCTAssertEqual(published.version, 1)
    // Scored on the 6 held-out photos, recorded with the model.
    let heldOut = try XCTUnwrap(published.heldOutAccuracy)
    XCTAssertEqual(heldOut * 6, (heldOut * 6).rounded(), accuracy: 1e-9, "a count out of 6")
    let metadata = try XCTUnwrap(json["checkpointMetadata"] as? [String: String])
    XCTAssertEqual(metadata["heldout_accuracy"], String(heldOut))
    XCTAssertEqual(metadata["input_framing"], "center_crop")
    try checkModelCard(root: root)
    // Again: nothing changed, nothing is retrained, the model stays.
    let again = try DropnetExecutable.run(arguments)
    XCTAssertEqual(again.status, 0, again.output)
    XCTAssertEqual(
      DaemonStatus.load(from: root.appendingPathComponent("state"))?.published?.version, 1)
  }

  /// The model card page published with the model: beside it and in versions/, rendered by
  /// Chromium with every picture and no console error, its figures those of the card the
  /// daemon archived; `dropnet report` writes the same page from the state folder.
  private func checkModelCard(root: URL) throws {
    let models = root.appendingPathComponent("models")
    let page = models.appendingPathComponent("DropnetClassifier.html")
    XCTAssertTrue(
      FileManager.default.fileExists(
        atPath: models.appendingPathComponent("versions/DropnetClassifier-1.html").path))
    let card = try XCTUnwrap(
      JSONSerialization.jsonObject(
        with: Data(contentsOf: root.appendingPathComponent("state/model-cards/1.json")))
        as? [String: Any])
    let report = try XCTUnwrap(card["report"] as? [String: Any])
    XCTAssertEqual((report["heldOut"] as? [String: Any])?["total"] as? Int, 6)
    let browser = try HeadlessBrowser()
    let loaded = try browser.load(page, evaluating: ShownModelCard.script)
    XCTAssertEqual(loaded.errors, [])
    let shown = try ShownModelCard(loaded.value)
    XCTAssertEqual(shown.title, "DropnetClassifier v1 · dropnet model card")
    XCTAssertEqual(shown.pictures.filter { !$0.loaded }.map(\.alt), [])
    // Two movies' sample frames, the validation mistakes and the learning curves at least.
    XCTAssertGreaterThan(shown.pictures.count, 8)
    XCTAssertEqual(shown.differences(from: report), [])

    let elsewhere = root.appendingPathComponent("pages/card.html")
    let written = try DropnetExecutable.run([
      "report", "--state", root.appendingPathComponent("state").path, "--out", elsewhere.path,
    ])
    XCTAssertEqual(written.status, 0, written.output)
    let html = try String(contentsOf: elsewhere, encoding: .utf8)
    XCTAssertTrue(html.contains("<a href=\"../models/DropnetClassifier.mlmodel\">"))
  }

  /// Without journald (its socket hidden in a private mount namespace) the daemon's lines go
  /// to stderr; with too little data `--once` says what is missing and exits 1.
  func testWithoutJournaldTheLinesGoToStandardError() throws {
    guard getuid() == 0 else { throw XCTSkip("hiding journald's socket needs root (unshare -m)") }
    let (_, arguments) = try layout(["fish.mov"])
    var environment = ProcessInfo.processInfo.environment
    environment["JOURNAL_STREAM"] = nil
    environment["DROPNET_LOG_TARGET"] = nil
    let result = try ChildProcess.run(
      URL(fileURLWithPath: "/usr/bin/unshare"),
      [
        "--mount", "/bin/sh", "-c",
        "mkdir -p /run/systemd/journal && mount -t tmpfs tmpfs /run/systemd/journal && "
          + "exec \"$0\" \"$@\"", try DropnetExecutable.url().path,
      ] + arguments, environment: environment)
    XCTAssertEqual(result.status, 1, result.output)
    XCTAssertTrue(result.output.contains("info dropnet: serving"), result.output)
    XCTAssertTrue(result.output.contains("extracted fish.mov"), result.output)
    XCTAssertTrue(
      result.output.contains("not training: at least 2 classes with 5 frames each"),
      result.output)
  }
}
