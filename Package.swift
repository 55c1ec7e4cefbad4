// swift-tools-version: 6.2
//
// dropnet: turn labelled videos into an on-device image classifier.
//
// Targets, from the bottom up (dependencies point one way):
//   COpenCV, CDNNL       system libraries (pkg-config / module maps), no code
//   DropnetCV            C++ shim over OpenCV behind a plain-C header
//   DropnetStorage       crash-safe file writes (temp file, fsync, rename)
//   DropnetMedia         Swift view of DropnetCV: images, video frames, plots
//   DropnetKernels       hand-written C kernels oneDNN lacks (fused batch norm + ReLU6 training)
//   DropnetArchitecture  the one MobileNet v1 table, host tensors, folding, SGD, seeded random
//   DropnetEngine        oneDNN tensors and layers, MobileNet v1; no files, no daemons
//   DropnetDataset       drop-folder contract, manifest, incremental frame extraction
//   DropnetModel         checkpoints (safetensors), TensorFlow GraphDef import
//   CInotifyTools, CSystemd  system libraries for the daemon (inotify, journald, sd_notify)
//   DropnetWatch         drop-folder watching: a pure settle/debounce machine and an inotify feed
//   DropnetJournal       swift-log handler for journald, systemd readiness/watchdog notification
//   DropnetTraining      the one Trainer of every mode: split, augmentation, feature cache, reports
//   DropnetCoreML        CoreML .mlmodel writer: InferenceNetwork -> bytes
//   DropnetONNX          ONNX writer (opset 13, preprocessing in the graph): InferenceNetwork -> bytes
//   DropnetTFLite        TFLite writer with Android image classifier metadata (own FlatBuffer
//                        builder, label file in an appended ZIP): InferenceNetwork -> bytes
//   DropnetExport        export of a checkpoint in every format: versions, summary, atomic writes
//   DropnetReport        the model card: its content, its self-contained HTML page, its archive
//   DropnetDaemon        `dropnet serve`: config, service loop, training seam, publishing
//   dropnet              the command-line tool: composes the parts
import PackageDescription

let strictSwift: [SwiftSetting] = [.treatAllWarnings(as: .error)]
let strictC: [CSetting] = [.treatAllWarnings(as: .error)]
let strictCXX: [CXXSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
  name: "dropnet",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "dropnet", targets: ["dropnet"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    // 1.16 brought LogEvent, which DropnetJournal's handler implements (log(event:)).
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
    // Generated tensorflow_graph.pb.swift comes from protoc-gen-swift 1.39.0 and needs its runtime.
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    // The daemon's configuration file (systemd/dropnet.toml).
    .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
  ],
  targets: [
    .systemLibrary(
      name: "COpenCV",
      pkgConfig: "opencv4",
      providers: [.apt(["libopencv-dev"])]
    ),
    .systemLibrary(
      name: "CDNNL",
      providers: [.apt(["libdnnl-dev"])]
    ),
    .systemLibrary(
      name: "CInotifyTools",
      providers: [.apt(["libinotifytools0-dev"])]
    ),
    .systemLibrary(
      name: "CSystemd",
      pkgConfig: "libsystemd",
      providers: [.apt(["libsystemd-dev"])]
    ),
    .target(
      name: "DropnetWatch",
      dependencies: ["CInotifyTools"],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetJournal",
      dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetCV",
      dependencies: ["COpenCV"],
      cSettings: strictC,
      cxxSettings: strictCXX
    ),
    .target(
      name: "DropnetStorage",
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetMedia",
      dependencies: ["DropnetCV"],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetKernels",
      // -O3 in debug builds too: the tests run these kernels on full-size activations.
      cSettings: strictC + [.unsafeFlags(["-O3"])]
    ),
    .target(
      name: "DropnetArchitecture",
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetEngine",
      dependencies: ["CDNNL", "DropnetKernels", "DropnetArchitecture"],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetDataset",
      dependencies: [
        "DropnetMedia",
        "DropnetStorage",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetModel",
      dependencies: [
        "DropnetArchitecture",
        "DropnetStorage",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      // The schema and its generator script live beside the generated tensorflow_graph.pb.swift.
      exclude: ["Proto/tensorflow_graph.proto"],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetCoreML",
      dependencies: [
        "DropnetModel",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      // The schema subset and its generator script live beside the generated coreml_model.pb.swift.
      exclude: ["Proto/coreml_model.proto"],
      // Testable in release too: the tests' DropnetCoreMLReader reads the generated (internal)
      // CoreML types, and a plain `swift build -c release` builds that target as well.
      swiftSettings: strictSwift + [
        .unsafeFlags(["-enable-testing"], .when(configuration: .release))
      ]
    ),
    .target(
      name: "DropnetONNX",
      dependencies: [
        "DropnetModel",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      // The schema subset and its generator script live beside the generated onnx_model.pb.swift.
      exclude: ["Proto/onnx_model.proto"],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetTFLite",
      dependencies: ["DropnetModel"],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetExport",
      dependencies: [
        "DropnetModel", "DropnetCoreML", "DropnetONNX", "DropnetTFLite", "DropnetStorage",
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetTraining",
      dependencies: [
        "DropnetDataset", "DropnetMedia", "DropnetArchitecture", "DropnetEngine", "DropnetModel",
        "DropnetStorage",
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetReport",
      dependencies: [
        "DropnetDataset", "DropnetTraining", "DropnetMedia", "DropnetModel", "DropnetStorage",
      ],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetDaemon",
      dependencies: [
        "DropnetWatch", "DropnetJournal", "DropnetDataset", "DropnetTraining", "DropnetExport",
        "DropnetModel", "DropnetStorage", "DropnetReport",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "TOMLKit", package: "TOMLKit"),
      ],
      swiftSettings: strictSwift
    ),
    .executableTarget(
      name: "dropnet",
      dependencies: [
        "DropnetMedia",
        "DropnetDataset",
        "DropnetEngine",
        "DropnetModel",
        "DropnetExport",
        "DropnetTraining",
        "DropnetDaemon",
        "DropnetJournal",
        "DropnetReport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetDatasetTests",
      dependencies: [
        "DropnetDataset", "DropnetMedia", "DropnetTestSupport",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strictSwift
    ),
    .target(
      name: "DropnetTestSupport",
      path: "Tests/DropnetTestSupport",
      swiftSettings: strictSwift
    ),
    // Reads an exported .mlmodel back and runs it through the engine (CoreML has no Linux
    // runtime); tests only, as it reaches the generated CoreML types with @testable.
    .target(
      name: "DropnetCoreMLReader",
      dependencies: [
        "DropnetCoreML", "DropnetExport", "DropnetModel", "DropnetArchitecture",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      path: "Tests/DropnetCoreMLReader",
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetWatchTests",
      dependencies: ["DropnetWatch"],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetJournalTests",
      dependencies: [
        "DropnetJournal", "DropnetTestSupport", .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetMediaTests",
      dependencies: ["DropnetMedia", "DropnetTestSupport"],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetCLITests",
      dependencies: ["dropnet", "DropnetTestSupport"],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetTrainingTests",
      dependencies: [
        "DropnetTraining", "DropnetArchitecture", "DropnetDataset", "DropnetMedia", "DropnetModel",
        "DropnetTestSupport",
        .product(name: "Logging", package: "swift-log"),
      ],
      // The Keras reference script and its fixture are read from the source tree.
      exclude: ["Fixtures"],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetDaemonTests",
      dependencies: [
        "DropnetDaemon", "DropnetExport", "DropnetCoreMLReader", "DropnetArchitecture",
        "DropnetWatch", "DropnetDataset", "DropnetModel",
        "DropnetTraining", "DropnetTestSupport", .product(name: "Logging", package: "swift-log"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetSystemdTests",
      dependencies: ["DropnetExport", "DropnetCoreMLReader", "DropnetTestSupport"],
      // The container's boot script is run from the source tree.
      exclude: ["boot-container.sh"],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetReportTests",
      dependencies: [
        "DropnetReport", "DropnetDataset", "DropnetTraining", "DropnetMedia", "DropnetModel",
        "DropnetTestSupport",
      ],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetEngineTests",
      dependencies: ["DropnetEngine", "DropnetArchitecture"],
      swiftSettings: strictSwift
    ),
    // Every exported format read back by its own reader: coremltools, ONNX Runtime, LiteRT and
    // MediaPipe (Python, from the tests' virtual environment) and dropnet's CoreML reader.
    .testTarget(
      name: "DropnetExportTests",
      dependencies: [
        "DropnetExport", "DropnetCoreML", "DropnetONNX", "DropnetTFLite", "DropnetCoreMLReader",
        "DropnetModel", "DropnetArchitecture", "DropnetEngine", "DropnetTraining", "DropnetDataset",
        "DropnetMedia", "DropnetTestSupport", .product(name: "Logging", package: "swift-log"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      exclude: ["check_mlmodel.py", "check_runtimes.py", "mlmodel_interpreter.py"],
      swiftSettings: strictSwift
    ),
    .testTarget(
      name: "DropnetModelTests",
      dependencies: ["DropnetModel", "DropnetArchitecture", "DropnetEngine", "DropnetCV"],
      resources: [.copy("Fixtures")],
      swiftSettings: strictSwift
    ),
  ],
  cxxLanguageStandard: .cxx17
)
