print("swiftlet-bench")
