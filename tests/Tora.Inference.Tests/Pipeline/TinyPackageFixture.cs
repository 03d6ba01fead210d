using Tora.Motion.IO;
using Tora.Inference.Pipeline;
using Tora.Motion.Trajectories;
using Tora.Models.Package;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Pipeline;

/// <summary>
/// The tiny checkpoints compiled once per test run with the real model compiler: a text-to-video package from
/// tiny-tora-t2v, and an image-to-video package from tiny-tora-i2v's transformer with the t2v folder's VAE, text
/// encoder, tokenizer and scheduler; a CPU pipeline over the t2v package; the reference loop.
/// </summary>
public sealed class TinyPackageFixture : IDisposable
{
    public TinyPackageFixture()
    {
        var root = TestData.TempFolder("tora-pipeline");
        T2VPackage = Path.Combine(root, "t2v");
        I2VPackage = Path.Combine(root, "i2v");
        var t2v = TestData.Path("fixtures/tiny-tora-t2v");
        PackageBuilder.Build(t2v, T2VPackage, Precision.Fp32);
        PackageBuilder.Build(t2v, I2VPackage, Precision.Fp32, transformerSource: TestData.Path("fixtures/tiny-tora-i2v/transformer"));
        Pipeline = new ToraPipeline(ModelPackage.Open(T2VPackage), Cpu);
        Loop = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz"));
        Coaster = TrajectoryTextReader.ReadFile(TestData.Path("tora-data/trajs/coaster.txt")).Trajectories;
    }

    /// <summary>CPU execution with two threads (the test machine's share).</summary>
    public static ExecutionOptions Cpu => new() { Provider = ExecutionProviderChoice.Cpu, IntraOpThreads = 2 };

    public string T2VPackage { get; }
    public string I2VPackage { get; }
    public ToraPipeline Pipeline { get; }
    public Dictionary<string, NpyArray> Loop { get; }
    public IReadOnlyList<Trajectory> Coaster { get; }

    /// <summary>The reference loop's flow video <c>[F, 3, H, W]</c> as <c>[F, H, W, 3]</c> (the original's OpenCV rendering).</summary>
    public byte[] ReferenceFlowVideo()
    {
        var tchw = Loop["flow_video_uint8_TCHW"].Data;
        const int plane = 64 * 96;
        var thwc = new byte[tchw.Length];
        for (int t = 0; t < 49; t++)
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < plane; p++)
                    thwc[(t * plane + p) * 3 + c] = tchw[(t * 3 + c) * plane + p];
        return thwc;
    }

    public void Dispose() => Pipeline.Dispose();
}

[CollectionDefinition(Name)]
public sealed class TinyPackageCollection : ICollectionFixture<TinyPackageFixture>
{
    public const string Name = "tiny package";
}
