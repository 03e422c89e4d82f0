'use strict';
// An operator's add form that chooses a tenant (#id_tenant): its autocomplete pickers ask
// for that tenant's rows only (tenants.admin.TenantAutocompleteJsonView reads `tenant`),
// and choosing another tenant empties them, since what they held belongs to the old one.
// Set up once the page's scripts have run (the admin's media may list this file before
// jquery.init.js, which makes django.jQuery).
window.addEventListener('DOMContentLoaded', function() {
    const $ = window.django && window.django.jQuery;
    const tenant = document.getElementById('id_tenant');
    if (!$ || !tenant || tenant.tagName !== 'SELECT') {
        return;
    }
    $.ajaxPrefilter(function(options) {
        if (!tenant.value || !options.url || !options.url.includes('/autocomplete/')) {
            return;
        }
        const extra = 'tenant=' + encodeURIComponent(tenant.value);
        options.url += (options.url.includes('?') ? '&' : '?') + extra;
    });
    $(tenant).on('change', function() {
        $('.admin-autocomplete').not('[name*=__prefix__]').val(null).trigger('change');
    });
});
