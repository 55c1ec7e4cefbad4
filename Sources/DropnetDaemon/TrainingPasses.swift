/// The training passes the daemon can run, by `training.fine_tune` mode.
public enum TrainingPasses {
  /// A pass for `mode`; throws naming `training.fine_tune` for a mode this build lacks.
  ///
  /// Plug-in point for new modes: return FineTuner's pass for `bn`, `top:K`, `all` here (and
  /// list them in `DaemonConfiguration.availableFineTuneModes`).
  public static func make(mode: String) throws -> TrainingPass {
    switch mode {
    case "head": return HeadTrainingPass()
    default:
      throw DaemonError(
        .invalidConfiguration, key: "training.fine_tune",
        "mode \(mode) is not available in this build; use head")
    }
  }
}
