using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Vae;
using Tora.Motion.IO;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;
using Tora.TestSupport;

namespace Tora.Models.Tests;

/// <summary>The tiny T2V VAE compiled once into decoder and encoder chunk graphs, with CPU sessions and the references.</summary>
public sealed class VaeFixture : IDisposable
{
    private readonly SessionOptions _options = new() { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };

    public VaeFixture()
    {
        var folder = TestData.Path("fixtures/tiny-tora-t2v/vae");
        Config = CogVideoXVaeConfig.Load(Path.Combine(folder, "config.json"));
        using var ckpt = Checkpoint.Open(folder);
        var decoder = CogVideoXVae.BuildDecoderChunk(ckpt, Config);
        var encoder = CogVideoXVae.BuildEncoder(ckpt, Config);
        ckpt.EnsureAllUsed();
        DecoderModel = decoder.ToBytes();
        EncoderModel = encoder.ToBytes();
        DecoderSession = new InferenceSession(DecoderModel, _options);
        EncoderSession = new InferenceSession(EncoderModel, _options);
        Decode = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/vae_decoder.npz"));
        Loop = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz"));
    }

    public CogVideoXVaeConfig Config { get; }

    /// <summary>A decoder of the tiny 8 × 12 latents (64 × 96 video), whole frames or <paramref name="tiling"/>.</summary>
    public VaeDecoder NewDecoder(VaeTiling? tiling = null) =>
        new(DecoderSession, Config.ScalingFactor, Config.SampleHeight / Config.SpatialCompression, Config.SampleWidth / Config.SpatialCompression, tiling: tiling);

    /// <summary>An encoder of the tiny 64 × 96 video, whole frames or <paramref name="tiling"/>.</summary>
    public VaeEncoder NewEncoder(VaeTiling? tiling = null) => new(EncoderSession, Config.SampleHeight, Config.SampleWidth, tiling: tiling);
    public byte[] DecoderModel { get; }
    public byte[] EncoderModel { get; }
    public InferenceSession DecoderSession { get; }
    public InferenceSession EncoderSession { get; }
    public Dictionary<string, NpyArray> Decode { get; }
    public Dictionary<string, NpyArray> Loop { get; }

    public void Dispose()
    {
        DecoderSession.Dispose();
        EncoderSession.Dispose();
        _options.Dispose();
    }
}
