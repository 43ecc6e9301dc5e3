"""Reference data shared by the apps, from national standards: provinces (GB/T 2260), the
survey's region groups and industry sections (GB/T 4754-2017)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Province(models.TextChoices):
    """The 34 provincial-level divisions, by their GB/T 2260 two-digit code."""

    BEIJING = "11", _("Beijing")
    TIANJIN = "12", _("Tianjin")
    HEBEI = "13", _("Hebei")
    SHANXI = "14", _("Shanxi")
    INNER_MONGOLIA = "15", _("Inner Mongolia")
    LIAONING = "21", _("Liaoning")
    JILIN = "22", _("Jilin")
    HEILONGJIANG = "23", _("Heilongjiang")
    SHANGHAI = "31", _("Shanghai")
    JIANGSU = "32", _("Jiangsu")
    ZHEJIANG = "33", _("Zhejiang")
    ANHUI = "34", _("Anhui")
    FUJIAN = "35", _("Fujian")
    JIANGXI = "36", _("Jiangxi")
    SHANDONG = "37", _("Shandong")
    HENAN = "41", _("Henan")
    HUBEI = "42", _("Hubei")
    HUNAN = "43", _("Hunan")
    GUANGDONG = "44", _("Guangdong")
    GUANGXI = "45", _("Guangxi")
    HAINAN = "46", _("Hainan")
    CHONGQING = "50", _("Chongqing")
    SICHUAN = "51", _("Sichuan")
    GUIZHOU = "52", _("Guizhou")
    YUNNAN = "53", _("Yunnan")
    TIBET = "54", _("Tibet")
    SHAANXI = "61", _("Shaanxi")
    GANSU = "62", _("Gansu")
    QINGHAI = "63", _("Qinghai")
    NINGXIA = "64", _("Ningxia")
    XINJIANG = "65", _("Xinjiang")
    TAIWAN = "71", _("Taiwan")
    HONG_KONG = "81", _("Hong Kong")
    MACAO = "82", _("Macao")


# Chinese names as they appear in imports and official documents, so imports accept either.
PROVINCE_NAMES_ZH = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}  # fmt: skip


class RegionGroup(models.TextChoices):
    """Region groups the impact-survey analysis uses (Hubei on its own)."""

    HUBEI = "hubei", _("Hubei")
    NORTH_EAST = "north_east", _("North-east")
    NORTH_WEST = "north_west", _("North-west")
    CENTRE = "centre", _("Centre (excluding Hubei)")
    EAST = "east", _("East")
    NORTH = "north", _("North")
    SOUTH = "south", _("South")
    SOUTH_WEST = "south_west", _("South-west")
    HK_MACAO_TAIWAN = "hk_macao_taiwan", _("Hong Kong, Macao and Taiwan")


REGION_GROUPS: dict[str, tuple[str, ...]] = {
    RegionGroup.HUBEI: ("42",),
    RegionGroup.NORTH_EAST: ("21", "22", "23"),
    RegionGroup.NORTH_WEST: ("61", "62", "63", "64", "65"),
    RegionGroup.CENTRE: ("14", "34", "36", "41", "43"),
    RegionGroup.EAST: ("31", "32", "33", "35", "37"),
    RegionGroup.NORTH: ("11", "12", "13", "15"),
    RegionGroup.SOUTH: ("44", "45", "46"),
    RegionGroup.SOUTH_WEST: ("50", "51", "52", "53", "54"),
    RegionGroup.HK_MACAO_TAIWAN: ("71", "81", "82"),
}
_GROUP_OF = {code: group for group, codes in REGION_GROUPS.items() for code in codes}


def region_group_of(province_code: str) -> str:
    return _GROUP_OF[province_code]


class IndustrySection(models.TextChoices):
    """GB/T 4754-2017 sections (门类)."""

    A = "A", _("Agriculture, forestry, animal husbandry and fishery")
    B = "B", _("Mining")
    C = "C", _("Manufacturing")
    D = "D", _("Electricity, heat, gas and water production and supply")
    E = "E", _("Construction")
    F = "F", _("Wholesale and retail trade")
    G = "G", _("Transport, storage and postal services")
    H = "H", _("Accommodation and catering")
    I = "I", _("Information transmission, software and IT services")  # noqa: E741
    J = "J", _("Finance")
    K = "K", _("Real estate")
    L = "L", _("Leasing and business services")
    M = "M", _("Scientific research and technical services")
    N = "N", _("Water conservancy, environment and public facilities management")
    O = "O", _("Resident, repair and other services")  # noqa: E741
    P = "P", _("Education")
    Q = "Q", _("Health and social work")
    R = "R", _("Culture, sports and entertainment")
    S = "S", _("Public administration, social security and social organisations")
    T = "T", _("International organisations")


INDUSTRY_NAMES_ZH = {
    "A": "农、林、牧、渔业", "B": "采矿业", "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业", "E": "建筑业", "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业", "H": "住宿和餐饮业", "I": "信息传输、软件和信息技术服务业",
    "J": "金融业", "K": "房地产业", "L": "租赁和商务服务业", "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业", "O": "居民服务、修理和其他服务业", "P": "教育",
    "Q": "卫生和社会工作", "R": "文化、体育和娱乐业", "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}  # fmt: skip
