import DropnetArchitecture
import DropnetDataset
import Foundation

/// The head mode's batches: the frozen base's pooled features of every training frame (and of
/// `augmentedCopies` augmented draws of it), computed once through a `FeatureCache`. An epoch
/// is one pass over the training frames, each frame as one of its copies drawn at random, in a
/// seeded shuffled order; a step is one SGD step of the head alone.
struct FeatureBatches: BatchSource {
  private let settings: TrainingSettings
  private let classWeights: [Double]
  private let trainingFeatures: [Float]
  private let trainingClasses: [Int]
  private let frameCount: Int
  private let validation: [Float]
  private var order: [Int] = []
  private var position = 0
  private(set) var featureSeconds: Double
  private(set) var stepSeconds = 0.0
  private(set) var stepImages = 0
  let waitedSeconds = 0.0

  /// Computes (or takes from `cache`) the features of `split`'s frames; `shouldStop` is asked
  /// between batches of the base network, and `progress` told the images computed so far and
  /// in all after each batch.
  init(
    split: DatasetSplit, classIndex: [Label: Int], classWeights: [Double], cache: FeatureCache,
    settings: TrainingSettings, shouldStop: () -> Bool,
    progress: (_ computed: Int, _ total: Int) -> Void = { _, _ in }
  ) throws {
    let secondsBefore = cache.computeSeconds
    let copies = Array(0...settings.cachedCopies)
    let total =
      try copies.reduce(0) { $0 + (try cache.missingCount(of: split.training, copy: $1)) }
      + (try cache.missingCount(of: split.validation))
    var computed = 0
    func counted(_ count: Int) {
      computed += count
      progress(computed, total)
    }
    var trainingFeatures: [Float] = []
    var trainingClasses: [Int] = []
    for copy in copies {
      trainingFeatures += try cache.features(
        of: split.training, copy: copy, shouldStop: shouldStop, computed: counted)
      trainingClasses += split.training.map { classIndex[$0.label]! }
    }
    validation = try cache.features(
      of: split.validation, shouldStop: shouldStop, computed: counted)
    self.trainingFeatures = trainingFeatures
    self.trainingClasses = trainingClasses
    frameCount = split.training.count
    self.settings = settings
    self.classWeights = classWeights
    featureSeconds = cache.computeSeconds - secondsBefore
  }

  /// The rows of this epoch in training order (`copy * frames + frame`).
  var epochRows: [Int] { order }

  mutating func beginEpoch(using random: inout SeededRandom) throws -> Int {
    // Row `copy * frameCount + frame` holds `frame`'s features as drawn for `copy`.
    let copies = UInt64(settings.cachedCopies + 1)
    order = (0..<frameCount).map { frame in
      copies == 1 ? frame : Int(random.next() % copies) * frameCount + frame
    }
    random.shuffle(&order)
    position = 0
    return (order.count + settings.resolvedBatchSize - 1) / settings.resolvedBatchSize
  }

  mutating func step(head: inout ClassifierHeadModel, dropoutSeed: UInt64) throws
    -> (pass: ClassifierHeadModel.TrainingPass, examples: Int)?
  {
    guard position < order.count else { return nil }
    let end = min(position + settings.resolvedBatchSize, order.count)
    var rows = Array(order[position..<end])
    position = end
    // A lone example has no batch variance to normalise by: borrow a neighbour.
    if rows.count == 1, order.count > 1 { rows.append(order[0]) }
    let width = MobileNetV1Architecture.featureCount
    var features: [Float] = []
    features.reserveCapacity(rows.count * width)
    for row in rows { features += trainingFeatures[(row * width)..<((row + 1) * width)] }
    let start = DispatchTime.now().uptimeNanoseconds
    let pass = head.train(
      features: features, classIndices: rows.map { trainingClasses[$0] },
      classWeights: classWeights, learningRate: settings.resolvedLearningRate,
      momentum: settings.momentum, weightDecay: settings.weightDecay, dropoutSeed: dropoutSeed)
    stepSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    stepImages += rows.count
    return (pass, rows.count)
  }

  func validationFeatures() throws -> [Float] { validation }

  func trainedBaseTensors() throws -> [String: HostTensor] { [:] }
}
