from services.knowledge.main import create_app
from services.knowledge.settings import KnowledgeSettings
from shared.service import run_service

settings = KnowledgeSettings()
run_service(create_app(settings), settings)
