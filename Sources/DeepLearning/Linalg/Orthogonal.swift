// Placeholder removed by the linear-algebra work: orthogonal initialisation needs `qr`.
func orthogonalMatrix(_ shape: [Int], gain: Float, generator: inout SeededGenerator) -> Tensor {
    fatalError("orthogonal initializer needs Linalg.qr")
}
