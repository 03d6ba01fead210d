using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Pipeline;

namespace Tora.Inference.Tests.Pipeline;

public sealed class CudaProbeTests
{
    [Fact]
    public void The_probe_graph_computes_nine_on_a_provider_that_computes()
    {
        // The same graph and check as on CUDA, on the CPU provider: a device that really convolves passes.
        using var options = new SessionOptions();
        Assert.Null(CudaProbe.Run(options));
    }

    [Fact]
    public void The_probe_graph_is_one_conv_of_two_inputs()
    {
        using var session = new InferenceSession(CudaProbe.ConvModel());
        Assert.Equal(["x", "w"], session.InputMetadata.Keys);
        Assert.Equal([1, 1, 1, 1], session.OutputMetadata["y"].Dimensions);
    }
}
