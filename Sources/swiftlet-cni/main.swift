import CNI

// Multi-call CNI plugin binary: dispatches on the name it was invoked by.
print("swiftlet-cni \(CNISpec.version)")
