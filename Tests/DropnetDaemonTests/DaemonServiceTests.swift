import Crypto
import DropnetCoreMLReader
import DropnetDaemon
import DropnetExport
import DropnetTestSupport
import Foundation
import XCTest

/// `dropnet serve` as a child process on a temporary drop folder, with a real journald and a
/// notify socket: what a user and systemd see.
final class DaemonServiceTests: XCTestCase {
  /// The published model as a reader sees it: labels of the .mlmodel (parsed back), the
  /// summary's version, and every format's file, whose SHA-256 the summary gives and whose
  /// version file must hold the same bytes.
  func publishedModel(_ harness: ServiceHarness, file: StaticString = #filePath, line: UInt = #line)
    throws -> (labels: [String], version: Int)
  {
    let model = harness.output.appendingPathComponent("DropnetClassifier.mlmodel")
    let parsed = try CoreMLClassifierFile(contentsOf: model)
    let summary = try JSONDecoder().decode(
      ExportSummary.self,
      from: Data(contentsOf: harness.output.appendingPathComponent("DropnetClassifier.json")))
    XCTAssertEqual(summary.classLabels, parsed.classLabels, file: file, line: line)
    XCTAssertEqual(
      summary.files.map(\.format), ExportFormat.allCases, "every format is published",
      file: file, line: line)
    for entry in summary.files {
      let published = try Data(contentsOf: harness.output.appendingPathComponent(entry.file))
      XCTAssertEqual(
        SHA256.hash(data: published).map { String(format: "%02x", $0) }.joined(), entry.sha256,
        "\(entry.file) is the file the summary names", file: file, line: line)
      let version = harness.output.appendingPathComponent(
        "versions/DropnetClassifier-\(summary.exportVersion).\(entry.format.fileExtension)")
      XCTAssertEqual(
        try Data(contentsOf: version), published, "versions/ holds the published bytes",
        file: file, line: line)
    }
    return (parsed.classLabels, summary.exportVersion)
  }

  static func labels(_ entry: [String: String]) -> [String] {
    (entry["DROPNET_LABEL"] ?? "").split(separator: ",").map(String.init)
  }

  func testServeDropAddRemoveReloadRebuildStop() throws {
    let harness = try ServiceHarness()
    let config = harness.folder.appendingPathComponent("dropnet.toml")
    try "[model]\nversions_kept = 3\n".write(to: config, atomically: true, encoding: .utf8)
    try harness.start(["--config", config.path])
    try harness.awaitNotification("READY=1")

    // Two classes and a corrupt movie: the corrupt one is reported, the others publish.
    try harness.copyExample("drop/fish.mov", as: "fish.mov")
    try harness.copyExample("drop/windmill.mov", as: "windmill.mov")
    try harness.copyExample("bad/not-a-video.mov", as: "broken.mov")
    try harness.awaitJournal(["DROPNET_EVENT=error", "DROPNET_MOVIE=broken.mov"]) { !$0.isEmpty }
    let extracted = try harness.awaitJournal(["DROPNET_EVENT=extracted"]) { $0.count >= 2 }
    XCTAssertEqual(Set(extracted.compactMap { $0["DROPNET_LABEL"] }), ["fish", "windmill"])
    let first = try harness.awaitJournal(["DROPNET_EVENT=published"]) { !$0.isEmpty }
    XCTAssertEqual(first.first?["DROPNET_PASS"], "fast")
    XCTAssertEqual(first.first?["DROPNET_MODEL_VERSION"], "1")
    XCTAssertNotNil(Double(first.first?["DROPNET_VAL_ACCURACY"] ?? ""))
    XCTAssertEqual(try publishedModel(harness).labels, ["fish", "windmill"])
    // Two speeds: the second pass follows and goes through the gate.
    try harness.awaitJournal([
      "DROPNET_EVENT=published", "DROPNET_EVENT=rejected", "DROPNET_PASS=full",
    ]) { !$0.isEmpty }
    let epochs = try harness.awaitJournal(["DROPNET_EVENT=epoch"]) { $0.count >= 6 }
    XCTAssertEqual(epochs.first?["DROPNET_EPOCH"], "1")

    // A third class moved in as a folder: a new version with the new label.
    let incoming = harness.folder.appendingPathComponent("incoming/tool")
    try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true)
    for clip in ["clip-1.mov", "clip-3.mov"] {
      try FileManager.default.copyItem(
        at: try ServiceHarness.example("drop/tool/\(clip)"),
        to: incoming.appendingPathComponent(clip))
    }
    try FileManager.default.moveItem(at: incoming, to: harness.drop.appendingPathComponent("tool"))
    try harness.awaitJournal(["DROPNET_EVENT=published"]) {
      $0.contains { Self.labels($0).sorted() == ["fish", "tool", "windmill"] }
    }
    let withTool = try publishedModel(harness)
    // Warm start: the published classes keep their outputs, the new one comes after them.
    XCTAssertEqual(withTool.labels, ["fish", "windmill", "tool"])

    // A class deleted: gone from the next version.
    try FileManager.default.removeItem(at: harness.drop.appendingPathComponent("windmill.mov"))
    try harness.awaitJournal(["DROPNET_EVENT=published"]) {
      $0.contains { Self.labels($0) == ["fish", "tool"] }
    }
    try harness.awaitJournal([
      "DROPNET_EVENT=published", "DROPNET_EVENT=rejected", "DROPNET_PASS=full",
    ]) {
      $0.contains { Self.labels($0) == ["fish", "tool"] || $0["DROPNET_EVENT"] == "rejected" }
        && $0.count >= 3
    }

    // SIGHUP with a bad file: refused naming the key, the old configuration stays, and the
    // daemon still rescans and retrains now (although nothing changed).
    try "[model]\nversions_kept = 0\n".write(to: config, atomically: true, encoding: .utf8)
    let started = try harness.awaitJournal(["DROPNET_EVENT=training_started"]) { !$0.isEmpty }.count
    harness.signal(SIGHUP)
    harness.signal(SIGHUP)
    let refused = try harness.awaitJournal([
      "DROPNET_EVENT=error", "DROPNET_KEY=model.versions_kept",
    ]) {
      !$0.isEmpty
    }
    XCTAssertTrue(refused[0]["MESSAGE"]?.contains("the previous one stays") ?? false)
    try harness.awaitJournal(["DROPNET_EVENT=training_started"]) { $0.count > started }

    // A good reload that changes the timing: the watcher is made again and keeps working.
    try "[model]\nversions_kept = 3\n[watch]\ndebounce = \"500ms\"\n".write(
      to: config, atomically: true, encoding: .utf8)
    harness.signal(SIGHUP)
    try harness.awaitJournal(["MESSAGE=configuration reloaded"]) { !$0.isEmpty }

    // `dropnet rebuild` signals the daemon: re-extract, train from ImageNet, bypass the gate.
    let rebuild = try DropnetExecutable.run(["rebuild", "--state", harness.state.path])
    XCTAssertEqual(rebuild.status, 0, rebuild.output)
    // The rebuild's fast pass publishes without the gate; then its second pass is judged.
    try harness.awaitJournal(["DROPNET_EVENT=published", "DROPNET_EVENT=rejected"]) { entries in
      guard
        let rebuilt = entries.firstIndex(where: {
          ($0["MESSAGE"] ?? "").contains("rebuild bypasses the gate")
        })
      else { return false }
      return entries[(rebuilt + 1)...].contains { $0["DROPNET_PASS"] == "full" }
    }
    let model = try publishedModel(harness)
    XCTAssertEqual(model.labels, ["fish", "tool"])
    let versions = try FileManager.default.contentsOfDirectory(
      atPath: harness.output.appendingPathComponent("versions").path)
    XCTAssertEqual(
      versions.count, 3 * 4, "model.versions_kept = 3, three formats and the page: \(versions)")
    for format in ExportFormat.allCases {
      XCTAssertTrue(versions.contains("DropnetClassifier-\(model.version).\(format)"))
    }
    XCTAssertTrue(versions.contains("DropnetClassifier-\(model.version).html"))

    let status = try DropnetExecutable.run(["status", "--state", harness.state.path])
    XCTAssertEqual(status.status, 0, status.output)
    for expected in [
      "daemon: running (pid \(harness.pid))", "dataset: 2 classes, 3 movies",
      "published: v\(model.version)", "failed: broken.mov",
    ] {
      XCTAssertTrue(status.output.contains(expected), "status lacks \(expected):\n\(status.output)")
    }

    // SIGTERM: STOPPING=1 and a clean exit.
    harness.signal(SIGTERM)
    try harness.awaitNotification("STOPPING=1")
    XCTAssertEqual(harness.awaitExit(within: .seconds(60)), 0)
    XCTAssertEqual(try publishedModel(harness).version, model.version)

    // What systemd saw: STATUS= lines through the phases, and watchdog pings throughout.
    let notifications = harness.notificationsReceived
    for expected in [
      "STATUS=extracting", "STATUS=training fast pass (head, 3 epochs)",
      "STATUS=idle: 2 classes", "model v\(model.version) (val acc",
    ] {
      XCTAssertTrue(
        notifications.contains { $0.contains(expected) }, "no \(expected) in \(notifications)")
    }
    XCTAssertGreaterThan(notifications.filter { $0 == "WATCHDOG=1" }.count, 10)
  }

  func testKillDuringTrainingThenRestartResumes() throws {
    let harness = try ServiceHarness()
    // A long second pass to be killed in.
    try harness.start(["--epochs-fresh", "2000"])
    try harness.awaitNotification("READY=1")
    try harness.copyExample("drop/fish.mov", as: "fish.mov")
    try harness.copyExample("drop/windmill.mov", as: "windmill.mov")
    try harness.awaitJournal(["DROPNET_EVENT=published"]) { !$0.isEmpty }
    try harness.awaitJournal(["DROPNET_EVENT=training_started", "DROPNET_PASS=full"]) {
      !$0.isEmpty
    }
    harness.signal(SIGKILL)
    XCTAssertNotNil(harness.awaitExit(within: .seconds(30)))
    let before = try publishedModel(harness)
    XCTAssertEqual(before.labels, ["fish", "windmill"])
    XCTAssertTrue(
      FileManager.default.fileExists(
        atPath: harness.state.appendingPathComponent("features.bin").path),
      "the fast pass saved the frames' features for the next start")
    XCTAssertEqual(before.version, 1, "the killed pass published nothing")

    // A change while stopped is found at start; kill -9 again, this time during extraction.
    try harness.copyExample("drop/tool/clip-1.mov", as: "tool/clip-1.mov")
    try harness.copyExample("drop/tool/clip-3.mov", as: "tool/clip-3.mov")
    harness.clearNotifications()
    try harness.start(["--two-speed", "false"])
    try harness.awaitNotification("STATUS=extracting 1/2: tool/clip-1.mov")
    harness.signal(SIGKILL)
    XCTAssertNotNil(harness.awaitExit(within: .seconds(30)))
    XCTAssertEqual(try publishedModel(harness).version, 1)

    // And once more while publishing: the reader sees the old model or the new one, whole.
    harness.clearNotifications()
    try harness.start(["--two-speed", "false"])
    try harness.awaitNotification("STATUS=publishing")
    harness.signal(SIGKILL)
    XCTAssertNotNil(harness.awaitExit(within: .seconds(30)))
    let during = try publishedModel(harness)
    XCTAssertTrue(
      [["fish", "windmill"], ["fish", "tool", "windmill"]].contains(during.labels.sorted()),
      "\(during)")

    // The work resumes and finishes; nothing half-extracted is left behind.
    harness.clearNotifications()
    try harness.start(["--two-speed", "false"])
    try harness.awaitNotification("READY=1")
    try harness.awaitJournal(["DROPNET_EVENT=published"]) { !$0.isEmpty }
    let frames = harness.state.appendingPathComponent("frames")
    let leftovers = try FileManager.default.subpathsOfDirectory(atPath: frames.path)
      .filter { $0.hasSuffix(".partial") }
    XCTAssertEqual(leftovers, [])
    let after = try publishedModel(harness)
    XCTAssertEqual(after.labels.sorted(), ["fish", "tool", "windmill"])
    XCTAssertEqual(after.version, during.version + 1)
    let status = try XCTUnwrap(DaemonStatus.load(from: harness.state))
    XCTAssertEqual(status.published?.version, after.version)
    XCTAssertEqual(status.classes.map(\.label), ["fish", "tool", "windmill"])
    harness.signal(SIGTERM)
    XCTAssertEqual(harness.awaitExit(within: .seconds(60)), 0)

    // SIGTERM during a long training pass: it is abandoned, the daemon exits cleanly and at
    // once, and the published model stays.
    try harness.copyExample("drop/monument.mov", as: "monument.mov")
    harness.clearNotifications()
    try harness.start(["--two-speed", "false", "--epochs-fresh", "10000"])
    try harness.awaitNotification("STATUS=training")
    harness.signal(SIGTERM)
    try harness.awaitNotification("STOPPING=1")
    XCTAssertEqual(harness.awaitExit(within: .seconds(30)), 0)
    XCTAssertEqual(try publishedModel(harness).version, after.version)
    XCTAssertEqual(DaemonStatus.load(from: harness.state)?.state, .stopped)
  }

  func testFullOutputDiskKeepsTheOldModel() throws {
    let output = try TestFiles.temporaryFolder("full").appendingPathComponent("models")
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    guard getuid() == 0,
      try runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", output.path]) == 0
    else { throw RequiredEnvironment.unavailable("mounting a tmpfs needs root") }
    defer { _ = try? runTool("/bin/umount", ["-l", output.path]) }
    let harness = try ServiceHarness(output: output)
    try harness.start(["--two-speed", "false"])
    try harness.awaitNotification("READY=1")
    try harness.copyExample("drop/fish.mov", as: "fish.mov")
    try harness.copyExample("drop/windmill.mov", as: "windmill.mov")
    try harness.awaitJournal(["DROPNET_EVENT=published"]) { !$0.isEmpty }
    XCTAssertEqual(try publishedModel(harness).version, 1)

    // Fill the disk but for 1 MiB: the next model cannot be written.
    var info = statvfs()
    XCTAssertEqual(statvfs(output.path, &info), 0)
    let free = Int(info.f_bavail) * Int(info.f_frsize)
    XCTAssertTrue(
      FileManager.default.createFile(
        atPath: output.appendingPathComponent("filler").path,
        contents: Data(count: max(0, free - (1 << 20)))))
    try harness.copyExample("drop/tool/clip-1.mov", as: "tool/clip-1.mov")
    let errors = try harness.awaitJournal(["DROPNET_EVENT=error"]) {
      $0.contains { ($0["MESSAGE"] ?? "").contains("publishing failed") }
    }
    let message = errors.last?["MESSAGE"] ?? ""
    XCTAssertTrue(message.contains("No space left on device"), message)
    XCTAssertTrue(message.contains("the published model stays"), message)
    let kept = try publishedModel(harness)
    XCTAssertEqual(kept.version, 1)
    XCTAssertEqual(kept.labels, ["fish", "windmill"])
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: output.appendingPathComponent(".staging").path))
    harness.signal(SIGTERM)
    XCTAssertEqual(harness.awaitExit(within: .seconds(60)), 0)
  }

  // MARK: Helpers

  func runTool(_ path: String, _ arguments: [String]) throws -> Int32 {
    try ChildProcess.run(URL(fileURLWithPath: path), arguments).status
  }
}
