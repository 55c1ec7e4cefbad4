import DropnetExport
import DropnetTestSupport
import DropnetTraining
import Foundation
import XCTest

@testable import DropnetDaemon

final class DaemonConfigurationTests: XCTestCase {
  func testTheExampleFileIsValidAndDocumentsEveryKey() throws {
    let example = TestFiles.packageRoot.appendingPathComponent("systemd/dropnet.toml")
    let text = try String(contentsOf: example, encoding: .utf8)
    let configuration = try DaemonConfiguration.parse(text, file: example.path)
    // The example shows the defaults.
    XCTAssertEqual(configuration, DaemonConfiguration())
    for key in DaemonConfiguration.keys {
      let parts = key.split(separator: ".")
      XCTAssertTrue(text.contains("[\(parts[0])]"), "no [\(parts[0])] section for \(key)")
      XCTAssertNotNil(
        text.range(of: "\n\(parts[1]) = ", options: []), "systemd/dropnet.toml lacks \(key)")
    }
  }

  func testValuesAndOverrides() throws {
    let configuration = try DaemonConfiguration.parse(
      """
      [folders]
      drop = "/data/drop"
      [training]
      batch_size = 8
      validation_fraction = 0.3
      two_speed = false
      [watch]
      settle = "250ms"
      debounce = "2min"
      [log]
      level = "debug"
      """,
      overrides: ["training.batch_size": .integer(4), "publish.gate_margin": .integer(0)])
    XCTAssertEqual(configuration.dropFolder, "/data/drop")
    XCTAssertEqual(configuration.batchSize, 4, "the flag wins over the file")
    XCTAssertEqual(configuration.validationFraction, 0.3)
    XCTAssertFalse(configuration.twoSpeed)
    XCTAssertEqual(configuration.settle, .milliseconds(250))
    XCTAssertEqual(configuration.debounce, .seconds(120))
    XCTAssertEqual(configuration.logLevel, .debug)
    XCTAssertEqual(configuration.gateMargin, 0)
  }

  func testEachInvalidKeyIsNamed() {
    let cases: [(toml: String, key: String, says: String)] = [
      ("[folders]\ndrop = 3", "folders.drop", "expected a string"),
      ("[folders]\nstate = \"relative/path\"", "folders.state", "absolute"),
      ("[folders]\noutput = true", "folders.output", "expected a string"),
      ("[model]\nname = \"my model\"", "model.name", "letters"),
      ("[model]\nversions_kept = 0", "model.versions_kept", "1...1000"),
      ("[model]\nformats = \"mlmodel,keras\"", "model.formats", "unknown format \"keras\""),
      ("[model]\nformats = \"\"", "model.formats", "name one or more of mlmodel, onnx, tflite"),
      ("[extraction]\nframe_rate = \"fast\"", "extraction.frame_rate", "expected a number"),
      ("[extraction]\nmax_frames = 0", "extraction.max_frames", "1...100000"),
      ("[extraction]\nmax_side = 10", "extraction.max_side", "224...4096"),
      ("[extraction]\nquality_filter = \"yes\"", "extraction.quality_filter", "true or false"),
      ("[training]\nfine_tune = \"everything\"", "training.fine_tune", "expected one of head"),
      ("[training]\nfast_epochs = 0", "training.fast_epochs", "1...10000"),
      ("[training]\nepochs_fresh = -1", "training.epochs_fresh", "1...10000"),
      ("[training]\nepochs_incremental = 1.5", "training.epochs_incremental", "whole number"),
      ("[training]\nbatch_size = 1", "training.batch_size", "2...4096"),
      ("[training]\nthreads = -2", "training.threads", "0...1024"),
      ("[training]\nmin_frames_per_class = 1", "training.min_frames_per_class", "2...1000000"),
      ("[training]\nmax_frames_per_class = -1", "training.max_frames_per_class", "0...1000000"),
      ("[training]\nvalidation_fraction = 0.99", "training.validation_fraction", "0.05...0.9"),
      ("[training]\naugmented_copies = 65", "training.augmented_copies", "0...64"),
      ("[training]\ntwo_speed = 1", "training.two_speed", "true or false"),
      ("[training]\nframing = \"crop\"", "training.framing", "center_crop or scale_fill"),
      ("[folders]\nheldout = \"photos\"", "folders.heldout", "an absolute path"),
      ("[training]\nprecision = \"fp16\"", "training.precision", "auto, float32 or bfloat16"),
      ("[publish]\ngate = \"on\"", "publish.gate", "true or false"),
      ("[publish]\ngate_margin = 2", "publish.gate_margin", "0.0...1.0"),
      ("[watch]\nsettle = 5", "watch.settle", "expected a string"),
      ("[watch]\ndebounce = \"soon\"", "watch.debounce", "duration with a unit"),
      ("[log]\nlevel = \"loud\"", "log.level", "expected trace"),
      ("[training]\nepochs = 3", "training.epochs", "unknown key"),
      ("[trainig]\nbatch_size = 3", "trainig.batch_size", "unknown key"),
      ("batch_size = 3", "batch_size", "expected a [batch_size] section"),
      ("[training]\nbatch_size = [1, 2]", "training.batch_size", "TOML array"),
    ]
    var covered = Set<String>()
    for item in cases {
      do {
        _ = try DaemonConfiguration.parse(item.toml)
        XCTFail("\(item.key): \(item.toml) was accepted")
      } catch let error as DaemonError {
        XCTAssertEqual(error.code, .invalidConfiguration, "\(item.key)")
        XCTAssertEqual(error.key, item.key)
        XCTAssertTrue(
          error.description.hasPrefix(item.key + ": ") && error.description.contains(item.says),
          "\(error.description) lacks \(item.says)")
        covered.insert(item.key)
      } catch {
        XCTFail("\(item.key): unexpected \(error)")
      }
    }
    XCTAssertEqual(Set(DaemonConfiguration.keys).subtracting(covered), [], "keys without a case")
  }

  func testFormatsAreAListInFileOrderWithoutRepeats() throws {
    XCTAssertEqual(DaemonConfiguration().formats, [.mlmodel, .onnx, .tflite])
    let configuration = try DaemonConfiguration.parse(
      "[model]\nformats = \"tflite, ONNX,tflite\"", overrides: [:])
    XCTAssertEqual(configuration.formats, [.onnx, .tflite])
    let overridden = try DaemonConfiguration.parse(
      "[model]\nformats = \"onnx\"", overrides: ["model.formats": .string("mlmodel")])
    XCTAssertEqual(overridden.formats, [.mlmodel], "the flag wins over the file")
  }

  func testFineTuneModesParseAndBadOnesAreNamed() throws {
    let table: [(String, FineTuneMode)] = [
      ("head", .head), ("bn", .batchNorm), ("top:2", .topBlocks(2)), ("top:13", .topBlocks(13)),
      ("all", .all),
    ]
    for (text, mode) in table {
      var configuration = DaemonConfiguration()
      try configuration.set("training.fine_tune", .string(text))
      XCTAssertEqual(configuration.fineTune, mode, text)
    }
    for bad in ["top:14", "top:02", "everything", "BN"] {
      var configuration = DaemonConfiguration()
      XCTAssertThrowsError(try configuration.set("training.fine_tune", .string(bad))) {
        XCTAssertEqual(($0 as? DaemonError)?.key, "training.fine_tune", bad)
      }
    }
  }

  func testSyntaxErrorsAndMissingFilesSayWhere() throws {
    XCTAssertThrowsError(try DaemonConfiguration.parse("[training\nbatch_size = 3", file: "x.toml"))
    { error in
      let description = "\(error)"
      XCTAssertTrue(description.contains("x.toml line 1"), description)
      XCTAssertEqual((error as? DaemonError)?.code, .unreadableConfiguration)
    }
    XCTAssertThrowsError(try DaemonConfiguration.load(file: "/nonexistent/dropnet.toml")) {
      XCTAssertTrue("\($0)".contains("/nonexistent/dropnet.toml"), "\($0)")
    }
    XCTAssertThrowsError(
      try DaemonConfiguration.parse("", overrides: ["training.batch_size": .integer(0)])
    ) { XCTAssertEqual(($0 as? DaemonError)?.key, "training.batch_size") }
  }

  func testDurations() {
    XCTAssertEqual(DaemonConfiguration.duration("500ms"), .milliseconds(500))
    XCTAssertEqual(DaemonConfiguration.duration("5s"), .seconds(5))
    XCTAssertEqual(DaemonConfiguration.duration("1.5s"), .milliseconds(1500))
    XCTAssertEqual(DaemonConfiguration.duration("2min"), .seconds(120))
    XCTAssertEqual(DaemonConfiguration.duration("1h"), .seconds(3600))
    XCTAssertNil(DaemonConfiguration.duration("5"))
    XCTAssertNil(DaemonConfiguration.duration("-1s"))
    XCTAssertNil(DaemonConfiguration.duration("s"))
  }
}
