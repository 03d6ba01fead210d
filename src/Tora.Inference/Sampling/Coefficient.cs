using System.Numerics;

namespace Tora.Inference.Sampling;

/// <summary>
/// A float64 coefficient rounded to float32 once (as torch casts a CPU scalar to a float32 tensor's dtype), kept
/// as the scalar and broadcast to a <see cref="Vector{T}"/> for the element-wise kernels.
/// </summary>
internal readonly struct Coefficient(double value)
{
    /// <summary>The value rounded to float32.</summary>
    public float Scalar { get; } = (float)value;

    /// <summary><see cref="Scalar"/> in every lane.</summary>
    public Vector<float> Vector { get; } = new((float)value);
}
