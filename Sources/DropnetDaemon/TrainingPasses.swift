/// The training passes the daemon can run, by `training.fine_tune` mode.
public enum TrainingPasses {
  /// A pass for `mode`; throws naming `training.fine_tune` for a mode this build lacks.
  ///
  /// `head` is `HeadTrainingPass`; `bn`, `top:K` (K 1-13) and `all` are `FineTuningPass`.
  public static func make(mode: String) throws -> TrainingPass {
    if mode == "head" { return HeadTrainingPass() }
    if let pass = FineTuningPass(mode: mode) { return pass }
    throw DaemonError(
      .invalidConfiguration, key: "training.fine_tune",
      "mode \(mode) is not available; use head, bn, top:K (K 1-13) or all")
  }
}
