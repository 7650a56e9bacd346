"""The form of the page that loads the information system's figures of a period."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired


class SystemFiguresForm(FlaskForm):
    export = FileField("信息系统导出文件（.xlsx 或 .csv）", validators=[FileRequired("请选择要导入的 .xlsx 或 .csv 文件")])
