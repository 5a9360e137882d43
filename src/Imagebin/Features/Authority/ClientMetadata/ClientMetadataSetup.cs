using Imagebin.Infrastructure.Outbound;

namespace Imagebin.Features.Authority;

public static class ClientMetadataSetup
{
    /// <summary>
    /// Registers <see cref="ClientMetadataDocuments"/> with its options (<c>Authority:ClientMetadata</c>), the guarded
    /// outbound client it fetches through (<c>Outbound</c>) and the in-memory cache it keeps documents in.
    /// </summary>
    public static IServiceCollection AddClientMetadata(this IServiceCollection services)
    {
        services.AddOptions<ClientMetadataOptions>().BindConfiguration(ClientMetadataOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddGuardedHttp();
        services.AddMemoryCache();
        services.AddSingleton<ClientMetadataDocuments>();
        return services;
    }
}
