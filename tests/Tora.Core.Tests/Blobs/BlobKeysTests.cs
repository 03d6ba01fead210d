using Tora.Core.Blobs;

namespace Tora.Core.Tests.Blobs;

public sealed class BlobKeysTests
{
    [Theory]
    [InlineData("alpha/0123/video.mp4", true)]
    [InlineData("../etc/passwd", false)]
    [InlineData("/abs/key", false)]
    [InlineData("a//b", false)]
    [InlineData("a/B.mp4", false)]
    [InlineData("a/./b", false)]
    public void Blob_keys_are_safe_relative_paths(string key, bool valid) => Assert.Equal(valid, BlobKeys.IsValid(key));
}
