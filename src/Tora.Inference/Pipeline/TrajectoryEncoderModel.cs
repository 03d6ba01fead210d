using Tora.Inference.Noise;
using Tora.Motion.Trajectories;

namespace Tora.Inference.Pipeline;

/// <summary>
/// The Trajectory Extractor of a package (docs/model.md §3): the motion input (trajectories rendered to a flow
/// video, or a flow video given) → VAE encoder → the per-block fuser modulations of <see cref="MotionGuidance"/>,
/// once per job.
/// </summary>
public sealed class TrajectoryEncoderModel(ModelPackage package, OrtSessionFactory factory, Action<string> log)
    : ModelComponent(ModelPackage.TrajectoryEncoder, package, factory, log)
{
    /// <summary>
    /// The modulations for <paramref name="request"/>'s flow video or trajectories (the flow's posterior draw comes
    /// after the first frame's, docs/model.md §5.5). Call it only when the request has a motion input.
    /// </summary>
    /// <exception cref="GenerationException">The motion input does not fit the video (code <c>invalid_input</c>).</exception>
    public MotionGuidance Encode(GenerationRequest request, VaeEncoderModel vae, INoiseSource noise)
    {
        var g = Package.Geometry;
        var video = new VideoGeometry(g.Frames, g.Height, g.Width);
        using var encoder = vae.Open();
        return request.FlowVideo is { } flow
            ? MotionGuidance.FromFlowVideo(flow, video, encoder, vae.ScalingFactor, Session, noise, DeviceMemory, request.Motion.Strength)
            : MotionGuidance.FromTrajectories(request.Trajectories, video, encoder, vae.ScalingFactor, Session, noise, DeviceMemory, request.Motion.Strength);
    }
}
