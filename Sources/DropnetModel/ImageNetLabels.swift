/// ImageNet class names for MobileNet v1's 1001-way TF-slim classifier.
///
/// The TF-slim checkpoints add class 0, "background", in front of the 1000 ILSVRC2012 classes,
/// so model output index i is `names[i - 1]` for i >= 1. Use `label(forModelIndex:)` or
/// `withBackground` rather than indexing `names` directly.
public enum ImageNetLabels {
  /// The label TF-slim uses for model output 0.
  public static let background = "background"

  /// 1001 labels in model output order: "background", then the 1000 ILSVRC2012 names.
  public static var withBackground: [String] { [background] + names }

  /// The label for a 1001-way model output index (0 is "background"), or nil if out of range.
  public static func label(forModelIndex index: Int) -> String? {
    if index == 0 { return background }
    guard index >= 1, index <= names.count else { return nil }
    return names[index - 1]
  }

  /// The first synonym of a label ("tench" for "tench, Tinca tinca"), for short displays.
  public static func shortName(_ label: String) -> String {
    String(label.prefix { $0 != "," })
  }
}
