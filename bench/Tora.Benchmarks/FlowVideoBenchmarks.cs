using BenchmarkDotNet.Attributes;
using Tora.Motion.Trajectories;

namespace Tora.Benchmarks;

/// <summary>
/// One trajectory (the coaster preset) at 49 × 480 × 720 from key points to the float flow video the VAE
/// takes (<c>[1, 3, 49, 480, 720]</c> in [−1, 1]), written into a reused buffer as the pipeline pools it.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class FlowVideoBenchmarks
{
    private readonly VideoGeometry _geometry = VideoGeometry.Default;
    private Trajectory[] _trajectories = [];
    private float[] _output = [];
    private byte[] _rgb = [];
    private FlowVideoBuffer? _pooled;

    [GlobalSetup]
    public void Setup()
    {
        _trajectories = [TrajectoryPresets.Get("coaster").Trajectory];
        _output = new float[3L * _geometry.Frames * _geometry.FramePixels];
        _rgb = new byte[3L * _geometry.Frames * _geometry.FramePixels];
        _pooled = new FlowVideoBuffer(_geometry);
    }

    /// <summary>The figure: points → float video for the VAE.</summary>
    [Benchmark(Baseline = true)]
    public float PointsToVaeInput()
    {
        var flow = FlowVideo.FromTrajectories(_trajectories, _geometry);
        flow.WriteVaeInput(_output);
        return _output[^1];
    }

    /// <summary>Points → uint8 RGB <c>[F, H, W, 3]</c> (previews, <c>--out-npy</c>).</summary>
    [Benchmark]
    public byte PointsToRgb()
    {
        var flow = FlowVideo.FromTrajectories(_trajectories, _geometry);
        flow.WriteRgb(_rgb);
        return _rgb[^1];
    }

    /// <summary>Points → float video into a pooled <see cref="FlowVideoBuffer"/> (steady state: only windows change).</summary>
    [Benchmark]
    public float PointsToPooledVaeInput()
    {
        var flow = FlowVideo.FromTrajectories(_trajectories, _geometry);
        flow.WriteVaeInput(_pooled!);
        return _pooled!.Data[^1];
    }
}
