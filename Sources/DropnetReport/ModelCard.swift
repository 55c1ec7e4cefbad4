import DropnetDataset
import DropnetModel
import DropnetStorage
import DropnetTraining
import Foundation

/// What a model card page shows, without its pictures: the model and its files, the data it
/// was trained on (every movie with its kept and dropped frames), how it trained, how it does
/// and, for the daemon, the gate's verdict. `ModelCardPage` renders it; the daemon keeps one
/// per published version (`ModelCardArchive`) so later pages can show the history.
public struct ModelCard: Codable, Sendable, Equatable {
  /// A model file a user downloads.
  public struct File: Codable, Sendable, Equatable {
    /// What reads it, e.g. "CoreML".
    public var format: String
    /// The file name, in `ModelCard.folder`.
    public var name: String
    /// Size in bytes.
    public var byteCount: Int
    /// Lower-case hex SHA-256 of its bytes, when known.
    public var sha256: String?
    /// What loads it, e.g. "iOS 11 or later".
    public var runtime: String?

    public init(format: String, name: String, byteCount: Int, sha256: String?, runtime: String?) {
      self.format = format
      self.name = name
      self.byteCount = byteCount
      self.sha256 = sha256
      self.runtime = runtime
    }
  }

  /// Code that uses the model, in one language.
  public struct Usage: Codable, Sendable, Equatable {
    /// "Swift", "Kotlin", "Shell".
    public var language: String
    /// The lines, as a user pastes them.
    public var code: String

    public init(language: String, code: String) {
      self.language = language
      self.code = code
    }
  }

  /// One movie of the dataset: its frame counts and the frames the page shows of it.
  public struct Movie: Codable, Sendable, Equatable {
    /// A frame shown on the page.
    public struct Sample: Codable, Sendable, Equatable {
      /// The frame's index (its file is `<index>.jpg`).
      public var index: Int
      /// Why the quality filter dropped it; nil for a kept frame.
      public var dropReason: FrameRecord.DropReason?

      public init(index: Int, dropReason: FrameRecord.DropReason?) {
        self.index = index
        self.dropReason = dropReason
      }
    }

    /// Path relative to the drop folder.
    public var path: String
    public var label: String
    /// Folder name of its frames (`frames/<label>/<movieID>/`).
    public var movieID: String
    public var keptFrames: Int
    public var blurredFrames: Int
    public var duplicateFrames: Int
    /// Seconds of video.
    public var seconds: Double
    /// Whether its class is one of the model's (a class still waiting for frames is not).
    public var trained: Bool
    /// Evenly spaced kept frames, then dropped ones of each reason.
    public var samples: [Sample]

    public init(
      path: String, label: String, movieID: String, keptFrames: Int, blurredFrames: Int,
      duplicateFrames: Int, seconds: Double, trained: Bool, samples: [Sample]
    ) {
      self.path = path
      self.label = label
      self.movieID = movieID
      self.keptFrames = keptFrames
      self.blurredFrames = blurredFrames
      self.duplicateFrames = duplicateFrames
      self.seconds = seconds
      self.trained = trained
      self.samples = samples
    }

    /// The sample's JPEG relative to the state folder: kept frames are training files, dropped
    /// ones lie in the movie's `dropped/` folder (`MovieExtractor.droppedFolderName`).
    public func relativePath(of sample: Sample) -> String {
      let folder = "frames/\(label)/\(movieID)/"
      return folder + (sample.dropReason == nil ? "" : MovieExtractor.droppedFolderName + "/")
        + "\(sample.index).jpg"
    }
  }

  /// One epoch's figures (nil where not measured).
  public struct Epoch: Codable, Sendable, Equatable {
    public var epoch: Int
    public var loss: Double?
    public var accuracy: Double?
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    public var seconds: Double?

    public init(_ epoch: TrainingHistory.Epoch) {
      func measured(_ value: Double) -> Double? { value.isFinite ? value : nil }
      self.epoch = epoch.epoch
      loss = measured(epoch.loss)
      accuracy = measured(epoch.accuracy)
      validationLoss = measured(epoch.validationLoss)
      validationAccuracy = measured(epoch.validationAccuracy)
      seconds = measured(epoch.seconds)
    }
  }

  /// The publish gate's decision on the model, with both figures it compared.
  public struct Gate: Codable, Sendable, Equatable {
    /// The gate's words, e.g. "not worse: new val acc 0.900, published 0.850 ...".
    public var verdict: String
    /// What was compared: "validation accuracy" or "held-out accuracy".
    public var measure: String
    /// The new model's figure.
    public var candidate: Double
    /// The model it replaced, nil for the first.
    public var published: Double?

    public init(verdict: String, measure: String, candidate: Double, published: Double?) {
      self.verdict = verdict
      self.measure = measure
      self.candidate = candidate
      self.published = published
    }
  }

  /// The model's name (its files' stem).
  public var name: String
  /// The published version; nil for a `dropnet train` run.
  public var version: Int?
  /// ISO 8601 time it was published (or trained).
  public var date: String
  /// Class labels in output order.
  public var labels: [String]
  /// How a photo becomes the input (the crop policy an app must ask Vision for).
  public var framing: InputFraming
  /// The folder the files are in (absolute), for links from a page elsewhere.
  public var folder: String
  /// Downloadable files.
  public var files: [File]
  /// Code to use it.
  public var usage: [Usage]
  /// What trained it, e.g. "fast pass" or "dropnet train".
  public var trainedBy: String
  /// The fine-tuning mode: "head", "bn", "top:K", "all".
  public var mode: String
  /// Wall time of the training, when measured.
  public var seconds: Double?
  /// Every epoch.
  public var epochs: [Epoch]
  /// The kept epoch (1-based).
  public var bestEpoch: Int
  /// The gate's decision; nil when nothing gated it (`dropnet train`).
  public var gate: Gate?
  /// Per-class figures, confusion matrix, held-out score and mistakes; nil when the training
  /// kept no report.
  public var report: TrainingReport?
  /// Every movie of the dataset, by label then path.
  public var movies: [Movie]
  /// The dropnet that made the card.
  public var dropnetVersion: String

  public init(
    name: String, version: Int?, date: String, labels: [String], framing: InputFraming,
    folder: String, files: [File], usage: [Usage], trainedBy: String, mode: String,
    seconds: Double?, epochs: [Epoch], bestEpoch: Int, gate: Gate?, report: TrainingReport?,
    movies: [Movie], dropnetVersion: String = DropnetVersion.string
  ) {
    self.name = name
    self.version = version
    self.date = date
    self.labels = labels
    self.framing = framing
    self.folder = folder
    self.files = files
    self.usage = usage
    self.trainedBy = trainedBy
    self.mode = mode
    self.seconds = seconds
    self.epochs = epochs
    self.bestEpoch = bestEpoch
    self.gate = gate
    self.report = report
    self.movies = movies
    self.dropnetVersion = dropnetVersion
  }

  /// The epochs as a history (for the curves).
  public var history: TrainingHistory {
    TrainingHistory(
      epochs: epochs.map {
        TrainingHistory.Epoch(
          epoch: $0.epoch, loss: $0.loss ?? .nan, accuracy: $0.accuracy ?? .nan,
          validationLoss: $0.validationLoss ?? .nan,
          validationAccuracy: $0.validationAccuracy ?? .nan, learningRate: .nan,
          seconds: $0.seconds ?? .nan)
      })
  }

  /// Validation accuracy of the kept epoch, when measured.
  public var validationAccuracy: Double? {
    report?.validationAccuracy ?? epochs.first { $0.epoch == bestEpoch }?.validationAccuracy
  }

  /// Most kept frames shown per movie.
  public static let keptSamplesPerMovie = 6
  /// Most dropped frames shown per movie and reason.
  public static let droppedSamplesPerMovie = 2

  /// Every movie of `manifest` with its counts and the frames to show: up to
  /// `keptSamplesPerMovie` kept frames evenly spaced in time, then up to
  /// `droppedSamplesPerMovie` of each drop reason. `labels`: the model's classes.
  public static func movies(of manifest: Manifest, labels: [String]) -> [Movie] {
    let trained = Set(labels)
    return manifest.movies.values
      .sorted { ($0.label.name, $0.path) < ($1.label.name, $1.path) }
      .map { record in
        let frames = record.frames.sorted { $0.index < $1.index }
        let kept = frames.filter { $0.dropReason == nil }
        var samples = spread(kept, keptSamplesPerMovie).map {
          Movie.Sample(index: $0.index, dropReason: nil)
        }
        for reason in FrameRecord.DropReason.allCases {
          samples += spread(frames.filter { $0.dropReason == reason }, droppedSamplesPerMovie)
            .map { Movie.Sample(index: $0.index, dropReason: reason) }
        }
        let counts = record.droppedCounts
        return Movie(
          path: record.path, label: record.label.name, movieID: record.movieID,
          keptFrames: kept.count, blurredFrames: counts[.blurred] ?? 0,
          duplicateFrames: counts[.duplicate] ?? 0,
          seconds: Double(record.decodedFrameCount)
            / (record.video.framesPerSecond > 0 ? record.video.framesPerSecond : 30),
          trained: trained.contains(record.label.name), samples: samples)
      }
  }

  /// Up to `count` elements evenly spaced over `items`, first and last included.
  public static func spread<Element>(_ items: [Element], _ count: Int) -> [Element] {
    guard items.count > count else { return items }
    guard count > 1 else { return Array(items.prefix(count)) }
    return (0..<count).map { items[$0 * (items.count - 1) / (count - 1)] }
  }

  /// The lines an iOS app uses a CoreML model named `name` with: Vision, with the crop
  /// policy the model was trained with.
  public static func coreMLUsage(name: String, framing: InputFraming) -> Usage {
    Usage(
      language: "Swift",
      code: """
        import CoreML
        import Vision

        // \(name).mlmodel in the Xcode project makes the class \(swiftTypeName(name)).
        let model = try VNCoreMLModel(for: \(swiftTypeName(name))(configuration: MLModelConfiguration()).model)
        let request = VNCoreMLRequest(model: model) { request, _ in
          guard let best = (request.results as? [VNClassificationObservation])?.first else { return }
          print(best.identifier, best.confidence)
        }
        \(framing.visionOption)  // the crop it was trained with
        try VNImageRequestHandler(cgImage: photo).perform([request])
        """)
  }

  /// The Kotlin lines an Android app uses a TFLite model named `name` with: MediaPipe Tasks'
  /// ImageClassifier (it reads the normalisation and labels from the file), given the part of
  /// the photo the model was trained on.
  public static func tfliteUsage(name: String, framing: InputFraming) -> Usage {
    Usage(
      language: "Kotlin (TFLite, MediaPipe Tasks)",
      code: """
        // com.google.mediapipe:tasks-vision; \(name).tflite in the app's assets.
        val classifier = ImageClassifier.createFromOptions(
            context,
            ImageClassifier.ImageClassifierOptions.builder()
                .setBaseOptions(BaseOptions.builder().setModelAssetPath("\(name).tflite").build())
                .setMaxResults(3)
                .build())
        val side = minOf(bitmap.width, bitmap.height)
        \(kotlinFraming(framing, side: "side"))
        val best = classifier.classify(BitmapImageBuilder(input).build())
            .classificationResult().classifications()[0].categories()[0]
        Log.i("dropnet", "${best.categoryName()} ${best.score()}")
        """)
  }

  /// The Kotlin lines an Android app uses an ONNX model named `name` with: ONNX Runtime, fed
  /// the 224x224 RGB bytes of the part of the photo the model was trained on (the model
  /// scales them itself).
  public static func onnxUsage(name: String, framing: InputFraming) -> Usage {
    Usage(
      language: "Kotlin (ONNX, ONNX Runtime)",
      code: """
        // com.microsoft.onnxruntime:onnxruntime-android; modelBytes: \(name).onnx
        val env = OrtEnvironment.getEnvironment()
        val session = env.createSession(modelBytes)
        val labels = JSONArray(session.metadata.customMetadata.getValue("labels"))
        \(kotlinFraming(framing, side: "224"))
        val rgb = ByteArray(224 * 224 * 3)  // input's pixels as R, G, B bytes, row by row
        val image = OnnxTensor.createTensor(
            env, ByteBuffer.wrap(rgb), longArrayOf(1, 224, 224, 3), OnnxJavaType.UINT8)
        session.run(mapOf("image" to image)).use { outputs ->
            val probabilities = (outputs[0].value as Array<FloatArray>)[0]
            val index = (outputs[1].value as LongArray)[0].toInt()
            Log.i("dropnet", "${labels.getString(index)} ${probabilities[index]}")
        }
        """)
  }

  /// The Kotlin line that gives a model of `framing` its part of `bitmap`, `side` pixels
  /// square.
  static func kotlinFraming(_ framing: InputFraming, side: String) -> String {
    switch framing {
    case .centerCrop:
      "val input = ThumbnailUtils.extractThumbnail(bitmap, \(side), \(side))  // the centred square, as trained"
    case .scaleFill:
      "val input = Bitmap.createScaledBitmap(bitmap, 224, 224, true)  // the whole photo squashed, as trained"
    }
  }

  /// The class name Xcode generates for a model file named `name`: characters that cannot
  /// be in a Swift name become `_`, and a leading digit gets one before it.
  static func swiftTypeName(_ name: String) -> String {
    var result = String(
      name.unicodeScalars.map {
        $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" ? Character($0) : "_"
      })
    if result.first.map({ ("0"..."9").contains($0) }) ?? true { result = "_" + result }
    return result
  }

  /// The card as pretty JSON with sorted keys (figures that were not measured become "nan").
  public func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try encoder.encode(self)
  }

  /// Reads a card `encoded` wrote.
  public init(decoding data: Data) throws {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    self = try decoder.decode(ModelCard.self, from: data)
  }
}
