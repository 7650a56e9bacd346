"""Requests the server makes itself go to the group robots and nowhere else (no SSRF).

A robot URL must name an allowed host: 企业微信 (qyapi.weixin.qq.com) and 钉钉 (oapi.dingtalk.com) over
https, plus the hosts of the setting WEBHOOK_HOSTS (a bureau's 政务微信 or 政务钉钉), comma-separated:
`host` or `host:port` for https, `http://host[:port]` where that host speaks plain http. A host without
a port is reached on its scheme's default port only.

At send time the host is resolved and every address it resolves to is checked: loopback, private,
link-local, multicast, reserved and unspecified addresses are refused, and the connection goes to the
address that was checked (the Host header, TLS SNI and the certificate check keep the name), so that a
DNS answer changed between the check and the connection (rebinding) reaches nothing else. Redirects
are never followed and at most a few kilobytes of the answer are read. Only a host of WEBHOOK_HOSTS
may resolve to a private or loopback address, and only with WEBHOOK_ALLOW_PRIVATE (an intranet robot;
the tests' local robot); link-local (169.254.169.254), multicast, reserved and unspecified never.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Mapping

#: the public robot hosts, always allowed over https
DEFAULT_HOSTS = ("qyapi.weixin.qq.com", "oapi.dingtalk.com")
#: the most of an answer read: a robot's answer is a short JSON object
MAX_ANSWER = 4096
PORTS = {"https": 443, "http": 80}


class AddressRefused(ValueError):
    """The URL or the address it resolves to is outside the rules (地址不允许)."""


@dataclass(frozen=True)
class Allowed:
    host: str
    scheme: str
    port: int
    #: listed by the bureau (WEBHOOK_HOSTS), not one of the public defaults
    listed: bool


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    #: path and query, as sent in the request line
    path: str
    #: may resolve to a private or loopback address (a listed host, with WEBHOOK_ALLOW_PRIVATE)
    private_ok: bool


def allowed_hosts(config: Mapping) -> list[Allowed]:
    """The defaults and the entries of WEBHOOK_HOSTS (a string, comma-separated, or a list)."""
    found = [Allowed(host, "https", 443, False) for host in DEFAULT_HOSTS]
    entries = config.get("WEBHOOK_HOSTS") or ""
    if isinstance(entries, str):
        entries = entries.split(",")
    for entry in entries:
        entry = entry.strip().lower()
        if not entry:
            continue
        parts = urllib.parse.urlsplit(entry if "://" in entry else f"https://{entry}")
        if parts.scheme not in PORTS or not parts.hostname:
            raise ValueError(f"WEBHOOK_HOSTS 的条目 {entry} 应为 主机名、主机名:端口 或 http://主机名:端口")
        found.append(Allowed(parts.hostname, parts.scheme, parts.port or PORTS[parts.scheme], True))
    return found


def check_url(url: str, config: Mapping) -> Target:
    """The URL's target when it names an allowed host, scheme and port; AddressRefused (in Chinese)
    otherwise. A host written as an IP address is checked here too, so that entry refuses it at once."""
    url = (url or "").strip()
    if len(url) > 500 or any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        raise AddressRefused("机器人地址格式不正确")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise AddressRefused("机器人地址格式不正确") from None
    if parts.scheme not in PORTS or not parts.hostname:
        raise AddressRefused("机器人地址应以 https:// 开头")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("机器人地址不能含用户名或密码")
    host, port = parts.hostname.lower(), port or PORTS[parts.scheme]
    match = next((a for a in allowed_hosts(config) if a.host == host and a.port == port), None)
    if match is None:
        hosts = "、".join(DEFAULT_HOSTS)
        raise AddressRefused(f"机器人地址只能是企业微信或钉钉机器人的地址（{hosts}，或系统设置 WEBHOOK_HOSTS 允许的主机）")
    if parts.scheme != match.scheme and not (parts.scheme == "https" and match.scheme == "http"):
        raise AddressRefused("机器人地址应以 https:// 开头")
    target = Target(url, parts.scheme, host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                    match.listed and bool(config.get("WEBHOOK_ALLOW_PRIVATE")))
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return target
    check_address(literal, target.private_ok)
    return target


def check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, private_ok: bool) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local or address.is_multicast or address.is_reserved or address.is_unspecified:
        raise AddressRefused("机器人地址指向不允许的网络地址")
    if (address.is_loopback or address.is_private or not address.is_global) and not private_ok:
        raise AddressRefused("机器人地址指向内部网络地址")


def resolve(target: Target) -> str:
    """The address to connect to: every address the host resolves to must pass, the first is used."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ConnectionError("无法解析机器人地址") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise ConnectionError("无法解析机器人地址")
    for address in addresses:
        check_address(ipaddress.ip_address(address.split("%")[0]), target.private_ok)
    return addresses[0]


def post_json(url: str, body: bytes, timeout: float, config: Mapping) -> tuple[int, bytes]:
    """POST `body` to an allowed robot URL: (HTTP status, at most MAX_ANSWER bytes of the answer).
    Raises AddressRefused, TimeoutError, or OSError / http.client.HTTPException for the connection."""
    target = check_url(url, config)
    address = resolve(target)
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(target.host, target.port, timeout=timeout,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    # connect to the address checked above; the name stays the Host header, the SNI and the certificate's
    connection._create_connection = lambda where, *args, **kwargs: socket.create_connection(
        (address, where[1]), *args, **kwargs)
    try:
        connection.request("POST", target.path, body=body,
                           headers={"Content-Type": "application/json; charset=utf-8"})
        answer = connection.getresponse()
        return answer.status, answer.read(MAX_ANSWER)
    finally:
        connection.close()
