import DropnetCoreMLReader
import DropnetExport
import DropnetTestSupport
import Foundation
import XCTest

/// dropnet installed by systemd/install.sh and run by a real systemd (in a container booted
/// from this machine's own root): what an administrator does and sees.
final class SystemdServiceTests: XCTestCase {
  /// The small, quick settings the tests run with (as ServiceHarness.start), for an instance's
  /// folders (the plain unit's when nil).
  static func quickConfiguration(instance: String? = nil) -> String {
    var text = ""
    if let instance {
      text += """
        [folders]
        drop = "/srv/dropnet/\(instance)/drop"
        state = "/var/lib/dropnet/\(instance)"
        output = "/srv/dropnet/\(instance)/models"

        """
    }
    return text + """
      [extraction]
      max_frames = 24
      [training]
      fast_epochs = 3
      epochs_fresh = 3
      epochs_incremental = 3
      threads = 2
      min_frames_per_class = 5
      max_frames_per_class = 16
      [watch]
      settle = "300ms"
      debounce = "1s"

      """
  }

  func testInstallServeReloadRebuildInstanceStopUninstall() throws {
    let drop = TestFiles.packageRoot.appendingPathComponent("examples/generated/drop")
    guard FileManager.default.fileExists(atPath: drop.path) else {
      throw TestFiles.Missing("missing \(drop.path): run examples/make-examples.sh")
    }
    let repository = TestFiles.packageRoot.path
    let install = [
      "bash", "\(repository)/systemd/install.sh", "--binary", try DropnetExecutable.url().path,
    ]
    let container = try SystemdContainer()
    defer { container.shutdown() }

    // install.sh keeps an existing configuration: these quick settings stay.
    try FileManager.default.createDirectory(
      at: container.url("/etc/dropnet"), withIntermediateDirectories: true)
    try Self.quickConfiguration().write(
      to: container.url("/etc/dropnet/dropnet.toml"), atomically: true, encoding: .utf8)
    let installed = try container.succeed(install, within: .seconds(300))
    for expected in [
      "kept /etc/dropnet/dropnet.toml", "imported the ImageNet weights", "started dropnet.service",
    ] {
      XCTAssertTrue(installed.contains(expected), "install.sh said:\n\(installed)")
    }
    // Idempotent: a second run changes nothing and leaves the service running.
    let again = try container.succeed(install, within: .seconds(300))
    XCTAssertTrue(again.contains("dropnet.service is running (nothing changed)"), again)

    // Movies dropped as a user would copy them in: the fast pass publishes, then the second.
    let journal = try UnitJournal(container: container, unit: "dropnet")
    try container.succeed(["cp", "-r", drop.path + "/.", "/srv/dropnet/drop/"])
    let first = try journal.await(["DROPNET_EVENT=published"]) { !$0.isEmpty }
    XCTAssertEqual(first.first?["DROPNET_PASS"], "fast")
    XCTAssertEqual(first.first?["DROPNET_MODEL_VERSION"], "1")
    try journal.await(["DROPNET_EVENT=published", "DROPNET_EVENT=rejected", "DROPNET_PASS=full"]) {
      !$0.isEmpty
    }

    // The published files and the model card page, readable by a user who is not dropnet.
    let summary = try JSONDecoder().decode(
      ExportSummary.self,
      from: Data(contentsOf: container.url("/srv/dropnet/models/DropnetClassifier.json")))
    XCTAssertEqual(summary.classLabels.sorted(), ["fish", "monument", "tool", "windmill"])
    let model = container.url("/srv/dropnet/models/DropnetClassifier.mlmodel")
    XCTAssertEqual(try CoreMLClassifierFile(contentsOf: model).classLabels, summary.classLabels)
    XCTAssertEqual(summary.files.map(\.format), [.mlmodel, .onnx, .tflite])
    for file in summary.files.map(\.file) + [
      "DropnetClassifier.json", "DropnetClassifier.html", "versions",
    ] {
      let attributes = try FileManager.default.attributesOfItem(
        atPath: container.url("/srv/dropnet/models/\(file)").path)
      let mode = (attributes[.posixPermissions] as? Int ?? 0) & 0o777
      XCTAssertEqual(mode & 0o004, 0o004, "\(file) is \(String(mode, radix: 8))")
    }
    let read = try container.succeed([
      "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sha256sum",
      "/srv/dropnet/models/DropnetClassifier.mlmodel",
    ])
    XCTAssertEqual(read.split(separator: " ").first.map(String.init), summary.modelSHA256)

    // What `systemctl status` shows, and no libgcrypt warning at start.
    let status = try journal.awaitStatusText { $0.hasPrefix("idle: 4 classes") }
    XCTAssertTrue(status.contains("model v\(summary.exportVersion) (val acc"), status)
    let log = try container.succeed(["journalctl", "-u", "dropnet", "-o", "cat", "--no-pager"])
    XCTAssertFalse(log.contains("insecure memory"), log)

    // systemctl reload: re-read the configuration, rescan and retrain now.
    let started = try journal.await(["DROPNET_EVENT=training_started"]) { !$0.isEmpty }.count
    try container.succeed(["systemctl", "reload", "dropnet"])
    try journal.await(["DROPNET_EVENT=training_started"]) { $0.count > started }

    // dropnet rebuild signals the service's main process; its fast pass bypasses the gate.
    let mainPID = try container.succeed([
      "systemctl", "show", "-p", "MainPID", "--value", "dropnet",
    ])
    .trimmingCharacters(in: .whitespacesAndNewlines)
    let rebuild = try container.succeed(["dropnet", "rebuild"])
    XCTAssertTrue(rebuild.contains("(pid \(mainPID))"), rebuild)
    try journal.await(["DROPNET_EVENT=published"]) {
      $0.contains { ($0["MESSAGE"] ?? "").contains("rebuild bypasses the gate") }
    }

    // A template instance: its own configuration, folders, state, journal and limits.
    try Self.quickConfiguration(instance: "team2").write(
      to: container.url("/etc/dropnet/team2.toml"), atomically: true, encoding: .utf8)
    let instance = try container.succeed(install + ["--instance", "team2"], within: .seconds(300))
    XCTAssertTrue(instance.contains("started dropnet@team2.service"), instance)
    let team2 = try UnitJournal(container: container, unit: "dropnet@team2", fromStart: true)
    let serving = try team2.await(["MESSAGE=serving"]) { !$0.isEmpty }
    XCTAssertEqual(serving.first?["DROPNET_DROP"], "/srv/dropnet/team2/drop")
    XCTAssertEqual(serving.first?["DROPNET_STATE"], "/var/lib/dropnet/team2")
    try team2.awaitStatusText { $0.hasPrefix("idle: 0 classes") }
    let properties = try container.succeed([
      "systemctl", "show", "-p", "ActiveState", "-p", "MemoryMax", "-p", "ControlGroup",
      "dropnet@team2",
    ])
    for expected in [
      "ActiveState=active", "MemoryMax=4294967296",
      "ControlGroup=/system.slice/system-dropnet.slice/dropnet@team2.service",
    ] {
      XCTAssertTrue(properties.contains(expected), properties)
    }
    for folder in ["/var/lib/dropnet/team2", "/srv/dropnet/team2/models"] {
      let attributes = try FileManager.default.attributesOfItem(atPath: container.url(folder).path)
      XCTAssertEqual(attributes[.ownerAccountID] as? Int, attributes[.groupOwnerAccountID] as? Int)
      XCTAssertNotEqual(attributes[.ownerAccountID] as? Int, 0, "\(folder) belongs to dropnet")
    }

    // systemctl stop during a training pass: it is abandoned, well within TimeoutStopSec=.
    let before = try journal.await(["DROPNET_EVENT=training_started"]) { !$0.isEmpty }.count
    try container.succeed(["systemctl", "reload", "dropnet"])
    try journal.await(["DROPNET_EVENT=training_started"]) { $0.count > before }
    let clock = ContinuousClock()
    let stopping = clock.now
    try container.succeed(["systemctl", "stop", "dropnet"], within: .seconds(120))
    let stopTime = clock.now - stopping
    XCTAssertLessThan(stopTime, .seconds(90), "TimeoutStopSec=90s")
    let stopped = try container.succeed([
      "systemctl", "show", "-p", "ActiveState", "-p", "Result", "-p", "ExecMainStatus", "dropnet",
    ])
    XCTAssertEqual(
      stopped.split(separator: "\n").sorted(),
      ["ActiveState=inactive", "ExecMainStatus=0", "Result=success"])
    print("systemctl stop dropnet took \(stopTime)")

    // Uninstall: units, binary and sysusers file go; configuration, state and models stay.
    let uninstalled = try container.succeed(install.prefix(2) + ["--uninstall"])
    XCTAssertTrue(uninstalled.contains("kept the data"), uninstalled)
    for gone in [
      "/etc/systemd/system/dropnet.service", "/etc/systemd/system/dropnet@.service",
      "/usr/local/bin/dropnet", "/usr/lib/sysusers.d/dropnet.conf",
    ] {
      XCTAssertFalse(FileManager.default.fileExists(atPath: container.url(gone).path), gone)
    }
    for kept in [
      "/etc/dropnet/dropnet.toml", "/etc/dropnet/team2.toml", "/var/lib/dropnet/manifest.json",
      "/var/lib/dropnet/mobilenet_v1_imagenet.safetensors",
      "/srv/dropnet/models/DropnetClassifier.mlmodel",
    ] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: container.url(kept).path), kept)
    }
    let units = try container.succeed([
      "systemctl", "list-units", "--all", "--plain", "--no-legend", "dropnet*",
    ])
    XCTAssertEqual(units.trimmingCharacters(in: .whitespacesAndNewlines), "", units)
  }
}
