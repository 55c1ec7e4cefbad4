/// The oneDNN compute engine: tensors, layers, MobileNet v1. Knows nothing of files.
public enum DropnetEngine {}
