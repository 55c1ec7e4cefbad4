/// dropnet's version, written into manifests, checkpoints and exported models.
public enum DropnetVersion {
  /// Semantic version of this build.
  public static let string = "0.1.0"
}
