// An estimate of a training (or inference) run's peak resident memory, made before the run from
// a probe: one step of the run at a small input, measured, then scaled to the real input.
//
// Why a probe rather than a table of formulas: the memory of a step is what its ops keep for
// backward, their outputs, their scratch buffers and the allocator's cache of freed buffers,
// and every one of those is defined by the ops themselves. Running the step at the smallest
// input the model takes measures them all exactly (TensorMemory counts every tensor buffer),
// whatever the model; for fully convolutional models the part that grows with the input grows
// in proportion to its elements, so the estimate at the real size is a scaling. Docs/Reliability.md
// has the estimate next to the measured peak for the pix2pix and digits models.

/// The peak resident memory of a run, estimated before the run, in bytes.
public struct MemoryEstimate: Sendable, CustomStringConvertible {
    /// Resident memory the process holds between steps: the runtime and libraries, the models'
    /// weights and buffers, the optimizer's state.
    public var heldBetweenSteps: Int
    /// The gradients a step forms: one float per trainable parameter.
    public var gradients: Int
    /// What one step adds at its peak besides the gradients: activations kept for backward,
    /// outputs, scratch buffers. Grows with the input.
    public var perStep: Int
    /// Freed tensor buffers the library keeps for reuse (`StoragePool`, at most 512 MiB by
    /// default, `DEEPLEARNING_POOL_MIB`), as measured between the probe's steps; later steps
    /// draw on them first.
    public var bufferCache: Int
    /// Data the caller holds besides (input batches, images kept for samples).
    public var data: Int

    /// The estimated peak resident memory, in bytes.
    public var total: Int { heldBetweenSteps + gradients + perStep + bufferCache + data }

    /// "≈ 4.6 GB (1.1 GB between steps, 0.2 GB gradients, 3.0 GB per step, 537 MB buffer cache, 50 MB data)".
    public var description: String {
        "≈ \(describeBytes(total)) (\(describeBytes(heldBetweenSteps)) between steps, \(describeBytes(gradients)) gradients, \(describeBytes(perStep)) per step, \(describeBytes(bufferCache)) buffer cache, \(describeBytes(data)) data)"
    }

    /// Creates an estimate from its parts, in bytes.
    public init(heldBetweenSteps: Int, gradients: Int, perStep: Int, bufferCache: Int, data: Int) {
        (self.heldBetweenSteps, self.gradients, self.perStep) = (heldBetweenSteps, gradients, perStep)
        (self.bufferCache, self.data) = (bufferCache, data)
    }
}

/// What one step of a run takes, measured on probes: the memory held between steps, the
/// gradients, and what a step adds at its peak as a fixed part plus a part proportional to the
/// input. `estimate(elements:data:)` gives the run's peak at any input size.
public struct MemoryProfile: Sendable {
    /// Resident memory held between steps, without the buffer cache: runtime, libraries, weights,
    /// buffers, optimizer state.
    public var heldBetweenSteps: Int
    /// The gradients a step forms: one float per trainable parameter.
    public var gradients: Int
    /// The library's cache of freed buffers after a step (resident; reused by the next).
    public var bufferCache: Int
    /// What a step adds at its peak whatever the input (weight-sized temporaries).
    public var perStepFixed: Int
    /// What a step adds at its peak per element of its input (activations, outputs, scratch).
    public var perStepPerElement: Double

    /// The estimated peak for a step whose input has `elements` elements (e.g. N·H·W), with
    /// `data` bytes held besides.
    public func estimate(elements: Int, data: Int) -> MemoryEstimate {
        MemoryEstimate(
            heldBetweenSteps: heldBetweenSteps, gradients: gradients,
            perStep: perStepFixed + Int(perStepPerElement * Double(elements)), bufferCache: bufferCache, data: data)
    }

    /// Measures `step` — one step of a run (forward, backward, optimizer update; or an inference
    /// pass) on models that are not the run's own, since it trains them — at one or two small
    /// inputs, `probeElements[i]` elements each, `step(i)` running the step at probe `i`.
    ///
    /// The first probe runs twice: the first run allocates what the process then keeps between
    /// steps (optimizer state, the libraries' buffers), the second is measured; the second probe
    /// (larger) runs once. With two probes, what a step adds at its peak is fitted as a fixed part
    /// plus a part proportional to the input; with one, it is all taken as proportional. The
    /// gradients count in full, and the rest at its own peak (`TensorMemory`): an upper bound,
    /// by at most the gradients alive at that moment.
    ///
    /// ```swift
    /// let probeModel = MyNet()                            // same architecture, not the run's
    /// let optimizer = Adam(for: probeModel, learningRate: 1e-3)
    /// let sides = [64, 128]
    /// let profile = MemoryProfile.measuring(
    ///     parameters: probeModel.parameters, probeElements: sides.map { $0 * $0 }
    /// ) { probe in
    ///     let x = Tensor.zeros([1, sides[probe], sides[probe], 3])
    ///     meanSquaredError(probeModel(x), x).backward()
    ///     optimizer.update()
    /// }
    /// let estimate = profile.estimate(elements: 16 * 256 * 256, data: 0)   // batch 16 at 256²
    /// if estimate.total > MemoryBudget.current().bytes { … }
    /// ```
    ///
    /// - Parameters:
    ///   - parameters: the parameters `step` gives gradients to (the probe's models'); empty for
    ///     inference.
    ///   - probeElements: the input elements of each probe, one or two, increasing.
    ///   - step: one step at probe `i`.
    public static func measuring(
        parameters: [Parameter], probeElements: [Int], step: (Int) throws -> Void
    ) rethrows -> MemoryProfile {
        precondition(
            (1...2).contains(probeElements.count) && probeElements.allSatisfy { $0 > 0 }
                && probeElements == probeElements.sorted(),
            "MemoryProfile.measuring: one or two increasing probe sizes, not \(probeElements)")
        let gradients = parameters.filter(\.requiresGradient).reduce(0) { $0 + $1.value.count } * 4
        try step(0)
        let held = MemoryBudget.residentBytes
        let (live, reserved) = (TensorMemory.liveBytes, TensorMemory.reservedBytes)
        let besidesGradients = live - TensorMemory.gradientBytes
        func measuredStep(_ probe: Int) throws -> Int {
            TensorMemory.resetPeak()
            try step(probe)
            return Swift.max(0, TensorMemory.peakLiveBytesBesidesGradients - besidesGradients)
        }
        let small = try measuredStep(0)
        var (fixed, perElement) = (0, Double(small) / Double(probeElements[0]))
        if probeElements.count == 2 && probeElements[1] > probeElements[0] {
            let large = try measuredStep(1)
            perElement = Swift.max(0, Double(large - small) / Double(probeElements[1] - probeElements[0]))
            fixed = Swift.max(0, small - Int(perElement * Double(probeElements[0])))
        }
        let cache = Swift.max(0, reserved - live)
        return MemoryProfile(
            heldBetweenSteps: held - cache, gradients: gradients, bufferCache: cache, perStepFixed: fixed,
            perStepPerElement: perElement)
    }
}
