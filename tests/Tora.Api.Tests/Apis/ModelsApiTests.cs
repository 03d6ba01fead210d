namespace Tora.Api.Tests.Apis;

public sealed class ModelsApiTests
{
    [Theory]
    [InlineData("t2v bf16 package /models/tora-t2v (49 frames 720x480) on CUDA", "t2v bf16 package <server path> (49 frames 720x480) on CUDA")]
    [InlineData("model package folder ./pkgs/x does not exist", "model package folder <server path> does not exist")]
    [InlineData(@"model package C:\models\x cannot be used: bad", "model package <server path> cannot be used: bad")]
    [InlineData("no worker is running for this model", "no worker is running for this model")]
    public void Model_details_shown_to_tenants_carry_no_server_paths(string detail, string shown) =>
        Assert.Equal(shown, Tora.Api.Apis.ModelsApi.WithoutServerPaths(detail));
}
