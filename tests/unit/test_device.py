from state.settings import describe_device


def test_describe_device_names_browser_and_system() -> None:
    chrome_linux = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    )
    assert describe_device(chrome_linux) == "Chrome on Linux"
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1"
    assert describe_device(iphone) == "Safari on iPhone"
    assert describe_device("") == "Unknown device"
    assert describe_device("curl/8.0") == "curl/8.0"
