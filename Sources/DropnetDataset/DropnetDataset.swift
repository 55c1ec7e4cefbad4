/// Drop-folder contract, manifest and incremental frame extraction.
public enum DropnetDataset {}
