"""The report GET /wc/v3/system_status answers: a plausible subset of environment, settings and active plugins."""

from __future__ import annotations


def status_report(base_url: str) -> dict:
    """WC_REST_System_Status_V2_Controller's report for the sandbox's WordPress 6.8.3 + WooCommerce 10.0.2."""
    return {
        "environment": {
            "home_url": base_url, "site_url": base_url, "version": "10.0.2", "wp_version": "6.8.3",
            "wp_multisite": False, "wp_memory_limit": 268435456, "wp_debug_mode": False, "wp_cron": True,
            "language": "de_DE", "external_object_cache": False, "server_info": "nginx/1.24.0",
            "php_version": "8.3.6", "php_post_max_size": 67108864, "php_max_execution_time": 30,
            "php_max_input_vars": 1000, "curl_version": "8.5.0, OpenSSL/3.0.13", "max_upload_size": 67108864,
            "mysql_version": "8.0.40", "mysql_version_string": "8.0.40-0ubuntu0.24.04.1", "default_timezone": "UTC",
            "fsockopen_or_curl_enabled": True, "domdocument_enabled": True, "gzip_enabled": True,
            "mbstring_enabled": True,
        },
        "settings": {"api_enabled": True, "currency": "EUR", "currency_symbol": "&euro;",
                     "currency_position": "right_space", "thousand_separator": ".", "decimal_separator": ",",
                     "number_of_decimals": 2},
        "active_plugins": [{"plugin": "woocommerce/woocommerce.php", "name": "WooCommerce", "version": "10.0.2"}],
    }
