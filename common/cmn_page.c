/* cmn_page: serves the embedded status page's files (cmn_page_assets). */
#include "cmn_page.h"

#include <assert.h>

#include "cmn_page_assets.h"

static void s_on_asset(const cmn_http_request_t *request,
                       cmn_http_response_t *response, void *arg)
{
    (void)request;
    const cmn_page_asset_t *asset = arg;
    cmn_http_respond(response, 200, asset->content_type,
                     (const char *)asset->bytes, asset->length);
    cmn_http_respond_header(response, "Content-Security-Policy", CMN_PAGE_CSP);
}

void cmn_page_routes(cmn_http_t *http)
{
    assert(http);
    for (size_t index = 0; index < cmn_page_asset_count; index++)
        cmn_http_route(http, "GET", cmn_page_assets[index].path, false,
                       s_on_asset, (void *)&cmn_page_assets[index]);
}
