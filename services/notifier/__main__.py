from services.notifier.main import create_app
from services.notifier.settings import NotifierSettings
from shared.service import run_service

settings = NotifierSettings()
run_service(create_app(settings), settings)
